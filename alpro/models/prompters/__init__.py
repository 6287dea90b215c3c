"""Registered prompters (`alpro.registry.PROMPTERS`): prompt template sets
and the entity prompter of PEM."""
from .entity_prompter import EntityPrompter
from .prompt_templates import (AlproImageTemplates, AlproVideoTemplates,
                               PromptTemplates)

__all__ = [
    'AlproImageTemplates', 'AlproVideoTemplates', 'EntityPrompter',
    'PromptTemplates'
]
