"""Batches of clips and captions to model inputs, on the model's device."""
from typing import List, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseDataPreprocessor

from alpro.registry import MODELS
from .tokenizer import LazyTokenizer

__all__ = ['VideoTextDataPreprocessor', 'CLIP_MEAN', 'CLIP_STD']

# ALPRO normalises with CLIP's statistics, in the 0-255 range.
CLIP_MEAN = (122.770938, 116.7460125, 104.09373615)
CLIP_STD = (68.5005327, 66.6321579, 70.32316305)


def video_groups(samples: Sequence) -> Optional[torch.Tensor]:
    """``(B,)`` long, the index of each sample's ``video_id`` among the
    batch's distinct ones; ``None`` when a sample has no ``video_id``."""
    ids = [sample.metainfo.get('video_id') for sample in samples]
    if any(video_id is None for video_id in ids):
        return None
    first: dict = {}
    return torch.tensor([first.setdefault(i, len(first)) for i in ids])


@MODELS.register_module()
class VideoTextDataPreprocessor(BaseDataPreprocessor):
    """Stack, normalise and tokenise a batch on the model's device.

    Input (from the dataloader, ``pseudo_collate``): ``inputs`` a list of B
    uint8 clips ``(T, C, H, W)`` and ``data_samples`` a list of B
    :class:`~alpro.structures.VideoTextDataSample` with a ``text`` field.
    Left-out samples (``inputs`` None, see ``BaseVideoTextDataset``) are
    dropped here.

    Output: ``dict(inputs=dict(video, text_ids, text_mask[, video_group]),
    data_samples)`` with ``video`` float ``(B, C, T, H, W)`` normalised,
    ``text_ids`` and ``text_mask`` ``(B, L)`` long, and, when every sample
    has a ``video_id``, ``video_group`` ``(B,)`` long: equal for the samples
    of one video (the VTM sampler never draws them as each other's
    negatives). A batch whose samples have no ``text`` (video
    classification) gives ``video`` only; one that mixes both is refused.

    Args:
        mean: per-channel mean, 0-255 scale (CLIP's by default, as ALPRO).
        std: per-channel std, 0-255 scale.
        tokenizer: ``dict(path=FOLDER)`` of a local fast tokenizer, read at
            the first batch (:class:`.tokenizer.LazyTokenizer`).
        max_length: longest token sequence, special tokens included.
        padding: ``'max_length'`` (fixed shapes, as ALPRO) or ``'longest'``.
    """

    def __init__(self,
                 tokenizer: dict,
                 mean: Sequence[float] = CLIP_MEAN,
                 std: Sequence[float] = CLIP_STD,
                 max_length: int = 40,
                 padding: str = 'max_length') -> None:
        super().__init__()
        self.tokenizer = LazyTokenizer(**tokenizer)
        self.max_length = max_length
        self.padding = padding
        shape = (1, len(mean), 1, 1, 1)
        self.register_buffer(
            'mean', torch.tensor(mean).view(shape), persistent=False)
        self.register_buffer(
            'std', torch.tensor(std).view(shape), persistent=False)

    @property
    def input_keys(self) -> Tuple[str, ...]:
        """The keys of every batch's ``inputs`` (``video_group``, made
        only for samples with a ``video_id``, aside): what an algorithm may
        check its tasks against when it is built."""
        return ('video', 'text_ids', 'text_mask')

    def tokenize(self, texts: List[str]) -> dict:
        """Tokenise captions; returns ``input_ids`` and ``attention_mask``
        ``(B, L)`` on the device.

        The copies are ``non_blocking``: a blocking host-to-GPU copy waits
        for the whole stream (the previous step included), a host sync.
        """
        encoded = self.tokenizer(
            texts,
            max_length=self.max_length,
            padding=self.padding,
            truncation=True,
            return_tensors='pt')
        return dict(
            text_ids=encoded['input_ids'].to(self.device, non_blocking=True),
            text_mask=encoded['attention_mask'].to(
                self.device, non_blocking=True))

    def forward(self, data: dict, training: bool = False) -> dict:
        clips: List[Optional[torch.Tensor]] = data['inputs']
        samples = data['data_samples']
        keep = [i for i, clip in enumerate(clips) if clip is not None]
        clips = [clips[i] for i in keep]
        samples = [samples[i] for i in keep]
        video = torch.stack(clips).to(self.device, non_blocking=True)
        # (B, T, C, H, W) uint8 -> (B, C, T, H, W) float, normalised
        video = video.permute(0, 2, 1, 3, 4).float()
        video = ((video - self.mean) / self.std).contiguous()
        inputs = dict(video=video)
        texts = [sample.get('text') for sample in samples]
        missing = sum(text is None for text in texts)
        if missing == len(texts):
            pass  # a video-only batch: no text keys
        elif missing:
            raise ValueError(
                f'{type(self).__name__}: {missing} of {len(texts)} samples '
                'of the batch have no text; a batch is all text-video or '
                'all video-only')
        else:
            inputs.update(self.tokenize(texts))
        groups = video_groups(samples)
        if groups is not None:
            inputs['video_group'] = groups.to(self.device, non_blocking=True)
        return dict(inputs=inputs, data_samples=samples)
