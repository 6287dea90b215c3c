"""Algorithms (``alpro.registry.MODELS``): the models a config names."""
__all__: list = []
