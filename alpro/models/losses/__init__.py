"""Registered losses (`alpro.registry.LOSSES`)."""
from .soft_cross_entropy_loss import SoftCrossEntropyLoss
from .vtc_loss import VTCLoss

__all__ = ['VTCLoss', 'SoftCrossEntropyLoss']
