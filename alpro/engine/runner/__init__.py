"""Loops (``alpro.registry.LOOPS``)."""
from .retrieval_loops import RetrievalTestLoop, RetrievalValLoop

__all__ = ['RetrievalTestLoop', 'RetrievalValLoop']
