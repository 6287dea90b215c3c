"""Algorithms (``alpro.registry.MODELS``): the models a config names."""
from .alpro_pretrainer import AlproPretrainer
from .prompter_pretrainer import PrompterPretrainer

__all__ = ['AlproPretrainer', 'PrompterPretrainer']
