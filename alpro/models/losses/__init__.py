"""Registered losses (`alpro.registry.LOSSES`)."""
from .vtc_loss import VTCLoss

__all__ = ['VTCLoss']
