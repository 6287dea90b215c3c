"""Video files through a model's test pipeline, batched and preprocessed
as the evaluation does, for the inferencers."""
import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.utils import ProgressBar
from torch import nn
from torch.utils.data import DataLoader, Dataset

from alpro.datasets.data_worker import init_data_worker
from alpro.datasets.errors import BadSampleError
from alpro.datasets.transforms import PackVideoTextInputs
from alpro.registry import TRANSFORMS
from alpro.structures import VideoTextDataSample

__all__ = [
    'VIDEO_EXTENSIONS', 'VideoFiles', 'VideoBatch', 'load_videos',
    'find_videos', 'test_pipeline', 'autocast'
]

#: the file endings a gallery folder is searched for (containers decord's
#: FFmpeg reads)
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.webm', '.mov', '.m4v', '.mpg',
                    '.mpeg', '.wmv', '.flv', '.3gp', '.ts', '.gif')

#: what the inferencers keep of a sample's pipeline results
META_KEYS = ('sample_idx', 'video_path', 'frame_inds', 'img_shape',
             'short_clip', 'clip')


def find_videos(folder: os.PathLike) -> List[str]:
    """Every file under ``folder`` (recursively) with a video ending
    (:data:`VIDEO_EXTENSIONS`, any case), absolute, sorted."""
    root = Path(folder)
    if not root.is_dir():
        raise NotADirectoryError(f'{root} is not a folder of videos')
    return sorted(
        str(p.absolute()) for p in root.rglob('*')
        if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file())


def test_pipeline(model: nn.Module) -> list:
    """The transforms of ``model.cfg``'s test dataset (the evaluation's),
    built, up to its packing step."""
    cfg = getattr(model, 'cfg', None)
    try:
        pipeline = cfg.test_dataloader.dataset.pipeline
    except AttributeError:
        raise ValueError(
            'the model has no config with a test_dataloader.dataset.pipeline'
            ' (model.cfg): build it with alpro.apis.init_model') from None
    transforms = [
        TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline
    ]
    return [t for t in transforms if not isinstance(t, PackVideoTextInputs)]


def autocast(model: nn.Module, amp: bool):
    """bfloat16 autocast on CUDA when ``amp``; else nothing."""
    device = next(model.parameters()).device
    if amp and device.type == 'cuda':
        return torch.autocast('cuda', dtype=torch.bfloat16)
    return contextlib.nullcontext()


class VideoFiles(Dataset):
    """Video files (and optional texts) through a test pipeline.

    Item ``i``: ``dict(inputs, data_samples)`` as the datasets give them:
    ``inputs`` the uint8 clip ``(T, C, H, W)``, or None when the file cannot
    be used (its reason in the metainfo ``bad``); the data sample has
    ``sample_idx``, ``video_path``, ``frame_inds``, ``clip`` (the first
    sampled frame's start and the last one's end, in seconds) and ``text``
    when texts are given.

    Args:
        paths: the video files.
        pipeline: built transforms, without the packing step
            (:func:`test_pipeline`).
        texts: one text per path (a question), or None.
    """

    def __init__(self,
                 paths: Sequence[str],
                 pipeline: list,
                 texts: Optional[Sequence[str]] = None) -> None:
        if texts is not None and len(texts) != len(paths):
            raise ValueError(f'{len(paths)} videos but {len(texts)} texts')
        self.paths = [str(p) for p in paths]
        self.texts = texts
        self.pipeline = pipeline
        self.pack = PackVideoTextInputs(meta_keys=META_KEYS)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, idx: int) -> dict:
        results = dict(sample_idx=idx, video_path=self.paths[idx])
        if self.texts is not None:
            results['text'] = self.texts[idx]
        try:
            for transform in self.pipeline:
                results = transform(results)
        except BadSampleError as error:
            sample = VideoTextDataSample(
                metainfo=dict(
                    sample_idx=idx,
                    video_path=self.paths[idx],
                    bad=error.reason.splitlines()[0]))
            return dict(inputs=None, data_samples=sample)
        inds = np.asarray(results['frame_inds'])
        fps = float(results.get('avg_fps') or 0)
        if fps > 0:
            results['clip'] = (float(inds.min()) / fps,
                               float(inds.max() + 1) / fps)
        else:
            results['clip'] = (float('nan'), float('nan'))
        return self.pack(results)


@dataclass
class VideoBatch:
    """One batch of usable videos, preprocessed.

    Attributes:
        inputs: the data preprocessor's ``inputs``: ``video``
            ``(B, C, T, H, W)``, and ``text_ids`` / ``text_mask`` ``(B, L)``
            with texts; empty when no video of the batch could be used.
        samples: the B data samples (``sample_idx``, ``video_path``,
            ``clip``).
        skipped: ``(path, one-line reason)`` of the batch's unusable files.
    """

    inputs: dict
    samples: List[VideoTextDataSample]
    skipped: List[Tuple[str, str]] = field(default_factory=list)

    @property
    def indices(self) -> List[int]:
        """The B videos' indices among the loaded paths."""
        return [s.sample_idx for s in self.samples]

    @property
    def clips(self) -> List[Tuple[float, float]]:
        """The B clips' ``(start_s, end_s)``."""
        return [tuple(s.clip) for s in self.samples]


def load_videos(model: nn.Module,
                paths: Sequence[str],
                texts: Optional[Sequence[str]] = None,
                *,
                batch_size: int = 8,
                num_workers: int = 0,
                show_progress: bool = False) -> Iterator[VideoBatch]:
    """Decode ``paths`` with ``model``'s test pipeline in a DataLoader
    (``pseudo_collate``, ``num_workers`` workers of one thread each) and
    preprocess each batch with ``model.data_preprocessor``, as the
    evaluation does. A file that cannot be used is reported in
    ``skipped``, never raised.

    Yields:
        :class:`VideoBatch`, in the order of ``paths``.
    """
    dataset = VideoFiles(paths, test_pipeline(model), texts)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=pseudo_collate,
        worker_init_fn=init_data_worker if num_workers else None)
    progress = ProgressBar(len(dataset)) if show_progress else None
    for batch in loader:
        keep = [
            i for i, clip in enumerate(batch['inputs']) if clip is not None
        ]
        skipped = [(s.video_path, s.bad) for s in batch['data_samples']
                   if 'bad' in s.metainfo]
        inputs, samples = {}, []
        if keep:
            with torch.no_grad():
                data = model.data_preprocessor(
                    dict(
                        inputs=[batch['inputs'][i] for i in keep],
                        data_samples=[batch['data_samples'][i] for i in keep]),
                    False)
            inputs, samples = data['inputs'], data['data_samples']
        if progress is not None:
            for _ in batch['inputs']:
                progress.update()
        yield VideoBatch(inputs, samples, skipped)
    if progress is not None:
        progress.file.write('\n')  # MMEngine's bar leaves its line open
