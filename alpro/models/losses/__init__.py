"""Registered loss functions (`alpro.registry.LOSSES`); the heads own
their tasks and build these."""
from .soft_cross_entropy_loss import SoftCrossEntropyLoss

__all__ = ['SoftCrossEntropyLoss']
