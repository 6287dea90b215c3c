"""Entity prompt templates: swappable sets of sentences with one ``{}``.

ALPRO (paper section 3.3 and appendix A.1, Table 8) describes each entity by
an ensemble of prompts, e.g. "A footage of a dog.", and averages their text
embeddings. Videos and images (CC-3M) get different sentences. A config
picks a set by name (``video_templates=dict(type='AlproVideoTemplates')``);
a plugin registers its own in ``alpro.registry.PROMPTERS``.
"""
import string
from typing import List, Optional, Sequence, Tuple, Union

from alpro.registry import PROMPTERS

__all__ = [
    'PromptTemplates', 'AlproVideoTemplates', 'AlproImageTemplates',
    'build_templates'
]


def _check_template(template: str, owner: str) -> str:
    """Return ``template`` if it has exactly one bare ``{}`` field.

    Raises:
        TypeError: it is not a string.
        ValueError: no ``{}``, several fields, a named, indexed or formatted
            field (``{0}``, ``{x}``, ``{:>5}``), or unbalanced braces.
    """
    if not isinstance(template, str):
        raise TypeError(f'{owner}: a template must be a str, got '
                        f'{type(template).__name__} {template!r}')
    try:
        fields = [
            (name, spec, conversion)
            for _, name, spec, conversion in string.Formatter().parse(template)
            if name is not None
        ]
    except ValueError as error:
        raise ValueError(
            f'{owner}: template {template!r} is not a valid format string '
            f'({error}); write literal braces as {{{{ and }}}}') from None
    if fields != [('', '', None)]:
        raise ValueError(
            f'{owner}: template {template!r} must hold exactly one bare {{}} '
            f'where the entity goes (found {len(fields)} field(s): '
            f'{fields!r}), e.g. "A footage of a {{}}."')
    return template


@PROMPTERS.register_module()
class PromptTemplates:
    """A set of prompt templates, each with exactly one ``{}``.

    The base class takes its sentences from the config
    (``dict(type='PromptTemplates', templates=['a {} here.', ...])``);
    subclasses fix a named set in ``default_templates``.

    Args:
        templates: the sentences; ``None`` takes the class's
            ``default_templates``.

    Raises:
        ValueError: no templates, or one without exactly one ``{}``.
        TypeError: a template that is not a string.
    """

    default_templates: Tuple[str, ...] = ()

    def __init__(self, templates: Optional[Sequence[str]] = None) -> None:
        name = type(self).__name__
        if templates is None:
            templates = self.default_templates
        if isinstance(templates, str):
            # a lone string would be taken as a sequence of characters
            raise TypeError(f'{name}: templates must be a sequence of str, '
                            f'got the string {templates!r}; wrap it in a list')
        self.templates: Tuple[str, ...] = tuple(
            _check_template(t, name) for t in templates)
        if not self.templates:
            raise ValueError(f'{name}: no templates; give templates=[...] '
                             'with sentences such as "A footage of a {}."')

    def fill(self, entity: str) -> List[str]:
        """The prompts of one entity.

        Args:
            entity: e.g. ``'dog'``.

        Returns:
            ``len(self)`` sentences, one per template, in order.
        """
        return [template.format(entity) for template in self.templates]

    def __len__(self) -> int:
        return len(self.templates)

    def __iter__(self):
        return iter(self.templates)

    def __eq__(self, other) -> bool:
        if not isinstance(other, PromptTemplates):
            return NotImplemented
        return self.templates == other.templates

    def __hash__(self) -> int:
        return hash(self.templates)

    def __repr__(self) -> str:
        return f'{type(self).__name__}({len(self)} templates)'


@PROMPTERS.register_module()
class AlproVideoTemplates(PromptTemplates):
    """ALPRO's 12 prompts for video inputs (paper, Table 8)."""

    default_templates = (
        'A footage of a {}.',
        'A footage of the {}.',
        'A footage of one {}.',
        'A video of a {}.',
        'A video of the {}.',
        'A video of one {}.',
        'A portrait of a {}.',
        'A portrait of the {}.',
        'A portrait of one {}.',
        'A video footage of a {}.',
        'A video footage of the {}.',
        'A video footage of one {}.',
    )


@PROMPTERS.register_module()
class AlproImageTemplates(PromptTemplates):
    """ALPRO's 12 prompts for image inputs, e.g. CC-3M (paper, Table 8)."""

    default_templates = (
        'A photo of a {}.',
        'A photo of the {}.',
        'A photo of one {}.',
        'A picture of a {}.',
        'A picture of the {}.',
        'A picture of one {}.',
        'A good photo of a {}.',
        'A good photo of the {}.',
        'A good photo of one {}.',
        'A good picture of a {}.',
        'A good picture of the {}.',
        'A good picture of one {}.',
    )


TemplatesCfg = Union[dict, PromptTemplates, Sequence[str]]


def build_templates(cfg: TemplatesCfg) -> PromptTemplates:
    """A template set from a ``PROMPTERS`` config, an instance, or a list of
    sentences."""
    if isinstance(cfg, PromptTemplates):
        return cfg
    if isinstance(cfg, dict):
        templates = PROMPTERS.build(cfg)
        if not isinstance(templates, PromptTemplates):
            raise TypeError(
                f'{cfg!r} built a {type(templates).__name__}, not a '
                'PromptTemplates set; name a template class such as '
                "'AlproVideoTemplates'")
        return templates
    return PromptTemplates(cfg)
