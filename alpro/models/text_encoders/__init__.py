"""Registered text encoders (`alpro.registry.TEXT_ENCODERS`)."""
__all__: list = []
