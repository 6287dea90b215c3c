"""A second set of entity prompt templates: short, caption-like phrases."""
from alpro.models.prompters import PromptTemplates
from alpro.registry import PROMPTERS

__all__ = ['ShortVideoTemplates']


@PROMPTERS.register_module()
class ShortVideoTemplates(PromptTemplates):
    """Short prompts in the style of WebVid's terse captions, for
    ``EntityPrompter(video_templates=dict(type='ShortVideoTemplates'))``.
    """

    default_templates = (
        '{}.',
        'a {}.',
        'the {}.',
        'a {} moving.',
        'a {} on the screen.',
        'close-up of a {}.',
    )
