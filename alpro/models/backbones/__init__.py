"""Registered backbones (`alpro.registry.BACKBONES`)."""
__all__: list = []
