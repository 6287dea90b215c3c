"""Image panels of training clips (and PEM regions) for TensorBoard."""
import textwrap
from typing import List, Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from alpro.registry import HOOKS

__all__ = ['TrainVisualizationHook']

FONT = cv2.FONT_HERSHEY_SIMPLEX


def text_strip(width: int,
               lines: Sequence[str],
               scale: float = 0.4) -> np.ndarray:
    """White text on black, ``(h, width, 3)`` uint8, long lines wrapped."""
    chars = max(8, int(width / (14 * scale)))
    wrapped = [w for line in lines for w in textwrap.wrap(line, chars) or ['']]
    height = 6 + int(22 * scale * 1.6) * len(wrapped)
    strip = np.zeros((height, width, 3), np.uint8)
    for i, line in enumerate(wrapped):
        y = 4 + int(22 * scale * 1.6) * (i + 1) - 4
        cv2.putText(strip, line, (4, y), FONT, scale, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return strip


def frame_row(clip: torch.Tensor, min_side: int = 128) -> np.ndarray:
    """``(T, C, H, W)`` uint8 -> the frames side by side, ``(H', T W', 3)``,
    enlarged (nearest) so that the shorter side is at least ``min_side``."""
    frames = clip.permute(0, 2, 3, 1).cpu().numpy()
    factor = max(1, int(np.ceil(min_side / min(frames.shape[1:3]))))
    frames = [
        np.kron(f, np.ones((factor, factor, 1), np.uint8)) for f in frames
    ]
    return np.concatenate(frames, axis=1)


def stack_rows(rows: List[np.ndarray]) -> np.ndarray:
    """Stack images of possibly different widths, padding with black."""
    width = max(r.shape[1] for r in rows)
    padded = [
        np.pad(r, ((0, 2), (0, width - r.shape[1]), (0, 0))) for r in rows
    ]
    return np.concatenate(padded, axis=0)


@HOOKS.register_module()
class TrainVisualizationHook(Hook):
    """Every ``interval`` training iterations, log image panels.

    ``train/clips``: the first ``num_samples`` clips of the batch, frames
    side by side, with their captions. ``train/pem`` (for models with an
    entity ``prompter``, i.e. ALPRO stage 2 with PEM on): each clip's first
    frame with its PEM region outlined, the prompter's top-k entities
    (the pseudo-label) and the model's top-k. Images go to the Runner's
    visualiser, so to TensorBoard with ``TensorboardVisBackend``.

    The panel's preprocessing (its own MLM masks and PEM regions) runs on
    forked random number generators, so a run draws the same random numbers
    for training with or without this hook.

    Args:
        interval: iterations between panels.
        num_samples: clips per panel.
        topk: entities listed per clip.
    """

    priority = 'LOW'

    def __init__(self,
                 interval: int = 100,
                 num_samples: int = 4,
                 topk: int = 3) -> None:
        self.interval = interval
        self.num_samples = num_samples
        self.topk = topk

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        if not data_batch or not self.every_n_train_iters(
                runner, self.interval):
            return
        keep = [
            i for i, clip in enumerate(data_batch['inputs'])
            if clip is not None
        ][:self.num_samples]
        clips = [data_batch['inputs'][i] for i in keep]
        samples = [data_batch['data_samples'][i] for i in keep]
        step = runner.iter + 1
        rows = []
        for clip, sample in zip(clips, samples):
            row = frame_row(clip)
            rows.append(
                stack_rows([row, text_strip(row.shape[1], [sample.text])]))
        runner.visualizer.add_image('train/clips', stack_rows(rows), step)
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        if getattr(model, 'prompter', None) is None:
            return  # no PEM: no region panel
        device = torch.device(model.data_preprocessor.device)
        # the panel's own MLM masks and PEM regions come from forked random
        # states: training draws what it would draw without this hook
        with torch.no_grad(), torch.random.fork_rng(
                devices=[device] if device.type == 'cuda' else []):
            data = model.data_preprocessor(
                dict(inputs=clips, data_samples=samples), True)
            if 'pem_box' not in data['inputs']:
                return
            prompter_probs, model_probs = model.pem_predictions(data['inputs'])
        runner.visualizer.add_image(
            'train/pem',
            self.pem_panel(clips, data['inputs']['pem_box'].cpu(),
                           model.prompter.topk(prompter_probs, self.topk),
                           model.prompter.topk(model_probs, self.topk)), step)

    @staticmethod
    def pem_panel(clips: List[torch.Tensor], boxes: torch.Tensor,
                  prompter_top: List[List[str]],
                  model_top: List[List[str]]) -> np.ndarray:
        """First frames with the region outlined and the two top-k lists.

        Args:
            clips: uint8 ``(T, C, H, W)`` each.
            boxes: ``(B, 4)`` ``(top, left, h, w)`` in pixels.
            prompter_top / model_top: entity names per clip.
        """
        rows = []
        for clip, box, ours, theirs in zip(clips, boxes.tolist(), model_top,
                                           prompter_top):
            frame = np.ascontiguousarray(clip[0].permute(1, 2, 0).numpy())
            top, left, height, width = box
            cv2.rectangle(frame, (left, top),
                          (left + width - 1, top + height - 1), (255, 255, 0),
                          1)
            image = frame_row(torch.from_numpy(frame).permute(2, 0, 1)[None])
            lines = [
                'prompter: ' + ', '.join(theirs), 'model: ' + ', '.join(ours)
            ]
            rows.append(
                stack_rows(
                    [image, text_strip(max(image.shape[1], 256), lines)]))
        return stack_rows(rows)
