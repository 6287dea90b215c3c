"""Real video files written with OpenCV, for the dataset and pipeline
tests (the ``video_factory`` and ``bad_videos`` fixtures write theirs with
it)."""
from pathlib import Path

import cv2
import numpy as np


def write_video(path: Path,
                num_frames: int = 16,
                size: tuple = (64, 48),
                fps: int = 8,
                seed: int = 0) -> Path:
    """Write an MPEG-4 clip of a square moving right over noise.

    Args:
        path: where to write (``.mp4`` or ``.avi``).
        num_frames: frames in the clip.
        size: ``(width, height)``.
        fps: frames per second.
        seed: seed of the background noise.

    Returns:
        the path written. Frame ``i`` has its square at ``x = 2 * i``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    fourcc = 'MJPG' if path.suffix == '.avi' else 'mp4v'
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened(), f'OpenCV cannot write {path}'
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 60, (height, width, 3), dtype=np.uint8)
    for i in range(num_frames):
        frame = background.copy()
        x = (2 * i) % max(width - 8, 1)
        frame[height // 4:height // 4 + 8, x:x + 8] = (0, 0, 255)  # BGR red
        writer.write(frame)
    writer.release()
    return path
