"""Play a clip backwards, keeping its caption true."""
import re

import numpy as np

from alpro.registry import TRANSFORMS

_OPPOSITE = {
    'left': 'right',
    'right': 'left',
    'up': 'down',
    'down': 'up',
    'upward': 'downward',
    'downward': 'upward',
    'upwards': 'downwards',
    'downwards': 'upwards',
    'leftward': 'rightward',
    'rightward': 'leftward',
}
_WORD = re.compile(r'\b(' + '|'.join(_OPPOSITE) + r')\b', re.IGNORECASE)


def _swap(match: re.Match) -> str:
    word = match.group(0)
    opposite = _OPPOSITE[word.lower()]
    return opposite.capitalize() if word[0].isupper() else opposite


@TRANSFORMS.register_module()
class TemporalReverse:
    """Reverse the frame order of ``results['imgs']`` (T, C, H, W) with
    probability ``prob``, swapping direction words in ``results['text']``.

    Args:
        prob: probability of reversing a clip.
    """

    def __init__(self, prob: float = 0.5) -> None:
        self.prob = prob

    def __call__(self, results: dict) -> dict:
        reverse = bool(np.random.rand() < self.prob)
        results['reversed'] = reverse
        if reverse:
            results['imgs'] = results['imgs'].flip(0)
            if 'text' in results:
                results['text'] = _WORD.sub(_swap, results['text'])
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(prob={self.prob})'
