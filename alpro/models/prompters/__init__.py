"""Registered prompters (`alpro.registry.PROMPTERS`)."""
__all__: list = []
