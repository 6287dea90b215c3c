"""Registered losses (`alpro.registry.LOSSES`)."""
__all__: list = []
