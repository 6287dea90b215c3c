"""Registered heads (`alpro.registry.HEADS`)."""
__all__: list = []
