"""A local fast tokenizer, read on first use rather than when the model is
built (a model builds from no file: ``docs/checkpoints.md``, "What is read
when")."""
import os.path as osp
from typing import Callable, List

__all__ = ['LazyTokenizer', 'check_when_read', 'load_tokenizer']


def load_tokenizer(path: str):
    """Load a Hugging Face *fast* tokenizer from a local folder, offline.

    Args:
        path: a folder written by ``save_pretrained`` (e.g. BERT-base
            uncased's, or the demo corpus's ``data/demo/tokenizer``).

    Returns:
        transformers.PreTrainedTokenizerFast
    """
    from transformers import AutoTokenizer
    if not osp.isdir(path):
        raise FileNotFoundError(
            f"tokenizer folder '{path}' not found. For the demo corpus run "
            '`python tools/data/make_demo_data.py --out data/demo`; for '
            'BERT, save bert-base-uncased\'s tokenizer there with '
            '`AutoTokenizer.from_pretrained("bert-base-uncased")'
            f'.save_pretrained("{path}")` on a machine with network access.')
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    if not tokenizer.is_fast:
        raise TypeError(f"tokenizer in '{path}' is not a fast tokenizer")
    return tokenizer


class LazyTokenizer:
    """The tokenizer of ``path``, read when it is first used (called, its
    length or any attribute asked for) and then kept; every check added by
    :meth:`add_check` runs on it once, when it is read.

    Args:
        path: a local folder (:func:`load_tokenizer`); a relative one is
            taken from the working directory of the build, not of the read.
    """

    def __init__(self, path: str) -> None:
        self.path = osp.abspath(path)
        self._tokenizer = None
        self._checks: List[Callable] = []

    def add_check(self, check: Callable) -> None:
        """Run ``check(tokenizer)`` (it raises to refuse the tokenizer) when
        the tokenizer is read; at once when it has been read already."""
        self._checks.append(check)
        if self._tokenizer is not None:
            check(self._tokenizer)

    @property
    def is_loaded(self) -> bool:
        return self._tokenizer is not None

    @property
    def loaded(self):
        """The ``transformers`` tokenizer, read now if it was not yet."""
        if self._tokenizer is None:
            tokenizer = load_tokenizer(self.path)
            for check in self._checks:
                check(tokenizer)
            self._tokenizer = tokenizer
        return self._tokenizer

    def __call__(self, *args, **kwargs):
        return self.loaded(*args, **kwargs)

    def __len__(self) -> int:
        return len(self.loaded)

    def __getattr__(self, name: str):
        if name.startswith('_'):  # copy and pickle look these up first
            raise AttributeError(name)
        return getattr(self.loaded, name)

    def __repr__(self) -> str:
        state = 'read' if self.is_loaded else 'not read yet'
        return f"LazyTokenizer('{self.path}', {state})"


def check_when_read(tokenizer, check: Callable) -> None:
    """Run ``check(tokenizer)`` when a :class:`LazyTokenizer` is read (at
    once if it was), or at once for a tokenizer object."""
    if isinstance(tokenizer, LazyTokenizer):
        tokenizer.add_check(check)
    else:
        check(tokenizer)
