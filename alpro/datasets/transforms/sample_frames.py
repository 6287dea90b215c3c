"""Choose the frames of a clip."""
from typing import Dict, Optional, Tuple

import numpy as np

from alpro.datasets.errors import BadSampleError
from alpro.registry import TRANSFORMS
from .loading import sample_path
from .random_transform import RandomTransform, global_generator

__all__ = ['SampleFrames']


@TRANSFORMS.register_module()
class SampleFrames(RandomTransform):
    """Choose ``num_frames`` frame indices of a ``total_frames`` long video.

    Strategies, as ALPRO's ``_load_video_from_path_decord`` (T =
    ``num_frames``, ``vlen`` = ``results['total_frames']``):

    * ``uniform`` / ``nlvl_uniform``: ``floor(i * vlen / T)`` for
      ``i < T``, computed in integers (ALPRO's float ``np.arange(0, vlen,
      vlen / T)`` means the same).
    * ``rand``: T distinct frames drawn at random, sorted.
    * ``headtail``: T/2 distinct random frames of the first half
      ``[0, vlen // 2)`` followed by T/2 of the second half
      ``[vlen // 2, vlen)``, each half sorted. T must be even.
    * ``nlvl_rand``: segment-based (TSN-style): the uniform grid cuts the
      video into T segments ``[floor(i * vlen / T), floor((i + 1) * vlen /
      T))`` and one frame is drawn from each.

    Short videos repeat frames, in temporal order:

    * ``uniform`` and ``nlvl_*`` repeat grid points by themselves (an empty
      segment gives its start).
    * ``rand`` (and each half of ``headtail``) with fewer frames than asked
      takes every frame once plus the missing number drawn with replacement,
      then sorts: every frame appears, some twice or more, never out of
      order. A one-frame video gives ``headtail`` its only frame for both
      halves.

    With ``test_mode=True`` no randomness is used: ``rand`` and
    ``nlvl_rand`` give the ``uniform`` indices, ``headtail`` gives the
    uniform grid of each half (``floor(i * h / (T/2))`` over the first half
    of length ``h = max(vlen // 2, 1)``, then ``vlen // 2 + floor(i * (vlen
    - vlen // 2) / (T/2))``).

    Random draws come from the sample's own generator
    (:class:`~alpro.datasets.transforms.RandomTransform`): bound by a
    :class:`~alpro.datasets.samplers.SeededSampler`, the indices depend only
    on ``(seed, epoch, rank, sample index)``.

    Multi-clip (test-time averaging): with ``num_clips=K > 1`` the video is
    cut into K equal segments and T frames are sampled from each as above;
    the K clips are concatenated, ``(K * T,)`` indices, and a model built
    for it (e.g. ``AlproRetrieval(test_clips=K)``) averages over them.

    Added keys: ``frame_inds``, ``np.int64`` array of shape ``(K * T,)``,
    non-decreasing, each in ``[0, vlen)``; ``short_clip`` (bool), True when
    ``vlen < K * T`` so that frames repeat (``BadSampleHook`` counts these).

    Args:
        num_frames: T, frames per clip.
        strategy: one of ``uniform``, ``rand``, ``headtail``,
            ``nlvl_uniform``, ``nlvl_rand``.
        test_mode: sample deterministically (see above).
        num_clips: K, clips per video (1: one clip over the whole video).

    Raises:
        BadSampleError: the video has no frames.
    """

    STRATEGIES = ('uniform', 'rand', 'headtail', 'nlvl_uniform', 'nlvl_rand')

    def __init__(self,
                 num_frames: int,
                 strategy: str = 'rand',
                 test_mode: bool = False,
                 num_clips: int = 1) -> None:
        if int(num_clips) < 1:
            raise ValueError(
                f'SampleFrames: num_clips must be >= 1, got {num_clips}')
        if int(num_frames) < 1:
            raise ValueError(
                f'SampleFrames: num_frames must be >= 1, got {num_frames}')
        if strategy not in self.STRATEGIES:
            raise ValueError(f'SampleFrames: unknown strategy {strategy!r}; '
                             f'choose one of {self.STRATEGIES}')
        if strategy == 'headtail' and num_frames % 2:
            raise ValueError(
                'SampleFrames: the headtail strategy takes half of the '
                f'frames from each half, so num_frames must be even, got '
                f'{num_frames}')
        self.num_frames = int(num_frames)
        self.strategy = strategy
        self.test_mode = test_mode
        self.num_clips = int(num_clips)

    @property
    def draws(self) -> bool:
        """Whether sampling is random (not ``test_mode``, not uniform)."""
        return not self.test_mode and self.strategy in ('rand', 'headtail',
                                                        'nlvl_rand')

    @staticmethod
    def _grid(start: int, length: int, num: int) -> np.ndarray:
        """``start + floor(i * length / num)`` for ``i < num``."""
        return start + np.arange(num, dtype=np.int64) * length // num

    @staticmethod
    def _random_sorted(start: int, length: int, num: int,
                       rng: np.random.Generator) -> np.ndarray:
        """``num`` sorted random frames of ``[start, start + length)``."""
        if length >= num:
            inds = rng.choice(length, num, replace=False)
        else:
            # Every frame once, then the shortfall with replacement.
            extra = rng.integers(0, length, num - length)
            inds = np.concatenate([np.arange(length), extra])
        return start + np.sort(inds).astype(np.int64)

    @classmethod
    def _bounds(cls, vlen: int, num: int) -> Tuple[np.ndarray, np.ndarray]:
        """Starts and ends of ``num`` equal segments of ``[0, vlen)``: segment
        ``k`` is ``[floor(k vlen / num), floor((k + 1) vlen / num))``."""
        starts = cls._grid(0, vlen, num)
        return starts, np.append(starts[1:], vlen)

    def _segments(self, vlen: int, rng: np.random.Generator) -> np.ndarray:
        starts, ends = self._bounds(vlen, self.num_frames)
        # An empty segment (vlen < T) gives its start: repeats stay ordered.
        offsets = rng.integers(0, np.maximum(ends - starts, 1))
        return starts + offsets.astype(np.int64)

    def sample(self,
               vlen: int,
               rng: Optional[np.random.Generator] = None) -> np.ndarray:
        """Frame indices for a video of ``vlen`` (> 0) frames.

        Args:
            vlen: frames in the video (or in one clip's segment).
            rng: the draws' generator (default: one seeded from NumPy's
                global state).

        Returns:
            ``np.int64`` array of shape ``(num_frames,)``.
        """
        if rng is None and self.draws:
            rng = global_generator()
        num = self.num_frames
        strategy = self.strategy
        if strategy == 'headtail':
            half = num // 2
            mid = vlen // 2
            # vlen == 1 has an empty first half: use frame 0 for both.
            head_len = max(mid, 1)
            tail_start = min(mid, vlen - 1)
            tail_len = vlen - tail_start
            if self.test_mode:
                head = self._grid(0, head_len, half)
                tail = self._grid(tail_start, tail_len, half)
            else:
                head = self._random_sorted(0, head_len, half, rng)
                tail = self._random_sorted(tail_start, tail_len, half, rng)
            return np.concatenate([head, tail])
        if self.test_mode or strategy in ('uniform', 'nlvl_uniform'):
            return self._grid(0, vlen, num)
        if strategy == 'rand':
            return self._random_sorted(0, vlen, num, rng)
        return self._segments(vlen, rng)

    def __call__(self, results: Dict) -> Dict:
        """Sample frame indices.

        Args:
            results: needs ``total_frames``.

        Returns:
            ``results`` with ``frame_inds`` added.
        """
        vlen = int(results['total_frames'])
        if vlen <= 0:
            raise BadSampleError(
                sample_path(results), f'no frames (total_frames={vlen})')
        # clip k samples within its segment, at least one frame long (sample
        # returns indices below its length, so every index is below vlen)
        starts, ends = self._bounds(vlen, self.num_clips)
        rng = self.rng(results) if self.draws else None
        results['frame_inds'] = np.concatenate([
            start + self.sample(max(int(end - start), 1), rng)
            for start, end in zip(starts, ends)
        ])
        results['short_clip'] = vlen < self.num_frames * self.num_clips
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_frames={self.num_frames}, '
                f'strategy={self.strategy!r}, test_mode={self.test_mode}, '
                f'num_clips={self.num_clips})')
