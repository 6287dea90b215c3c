"""Algorithms (``alpro.registry.MODELS``): the models a config names."""
from .prompter_pretrainer import PrompterPretrainer

__all__ = ['PrompterPretrainer']
