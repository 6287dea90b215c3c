"""Prompt template sets: validation, registry, and swapping by config."""
import alpro_example_plugin  # noqa: F401  (registers ShortVideoTemplates)
import pytest
from mmengine.registry import DefaultScope

from alpro.models.prompters import (AlproImageTemplates, AlproVideoTemplates,
                                    PromptTemplates)
from alpro.registry import PROMPTERS
from tests.test_models.test_prompters.tiny_entity_prompter import (
    ENTITIES, build_entity_prompter, write_entities)


@pytest.mark.parametrize('cls', [AlproVideoTemplates, AlproImageTemplates])
def test_alpro_sets(cls):
    templates = cls()
    assert len(templates) == 12 == len(set(templates.templates))
    assert isinstance(templates.templates, tuple)
    assert all(t.count('{}') == 1 for t in templates.templates)
    filled = templates.fill('dog')
    assert len(filled) == 12 and all('dog' in p for p in filled)
    assert '{' not in ''.join(filled)


def test_alpro_sets_follow_the_paper():
    assert AlproVideoTemplates().fill('dog')[:2] == [
        'A footage of a dog.', 'A footage of the dog.'
    ]
    assert AlproImageTemplates().fill('dog')[0] == 'A photo of a dog.'


def test_custom_templates_from_a_config():
    templates = PROMPTERS.build(
        dict(type='PromptTemplates', templates=['{}', 'a {} here.']))
    assert templates.templates == ('{}', 'a {} here.')
    assert templates.fill('cat') == ['cat', 'a cat here.']
    assert templates == PromptTemplates(('{}', 'a {} here.'))


@pytest.mark.parametrize(
    'bad, match',
    [
        (['A footage.'], 'exactly one bare'),  # no field
        (['A {} of a {}.'], 'exactly one bare'),  # two fields
        (['A footage of a {0}.'], 'exactly one bare'),  # indexed
        (['A footage of a {entity}.'], 'exactly one bare'),  # named
        (['A footage of a {:>5}.'], 'exactly one bare'),  # format spec
        (['A footage of a {.'], 'not a valid format string'),
        ([], 'no templates'),
    ])
def test_invalid_templates_are_named(bad, match):
    with pytest.raises(ValueError, match=match) as error:
        PromptTemplates(['a {}.', *bad] if bad else bad)
    if bad:
        assert repr(bad[0]) in str(error.value)


def test_non_string_templates():
    with pytest.raises(TypeError, match='must be a str'):
        PromptTemplates(['a {}.', 3])
    with pytest.raises(TypeError, match='wrap it in a list'):
        PromptTemplates('a {}.')
    # escaped braces are literal text, not fields
    assert PromptTemplates(['{{a}} {}']).fill('x') == ['{a} x']


@pytest.mark.parametrize('scope', ['alpro', 'mmengine', None])
def test_registered_sets_build_under_each_scope(scope):
    names = ('AlproVideoTemplates', 'AlproImageTemplates',
             'ShortVideoTemplates')
    for name in names:
        if scope is None:
            templates = PROMPTERS.build(dict(type=name))
        else:
            with DefaultScope.overwrite_default_scope(scope):
                templates = PROMPTERS.build(dict(type=name))
        assert type(templates).__name__ == name
        assert isinstance(templates, PromptTemplates)


def test_a_config_switches_to_the_plugins_templates(tmp_path, tokenizer_dir):
    short = PROMPTERS.get('ShortVideoTemplates')
    assert short.__module__.startswith('alpro_example_plugin')
    prompter = build_entity_prompter(
        tokenizer_dir,
        write_entities(tmp_path / 'entities.txt'),
        video_templates=dict(type='ShortVideoTemplates'))
    assert type(prompter.video_templates) is short
    assert isinstance(prompter.image_templates, AlproImageTemplates)

    # record the prompts the cache tokenises, and so encodes
    tokenizer = prompter.tokenizer
    seen = []

    class Recorder:
        name_or_path = tokenizer.name_or_path

        def __call__(self, texts, **kwargs):
            seen.extend(texts)
            return tokenizer(texts, **kwargs)

        def __len__(self):
            return len(tokenizer)

    prompter.tokenizer = Recorder()
    prompter.build_cache()
    video_prompts = [t.format(e) for e in ENTITIES for t in short().templates]
    image_prompts = [
        t.format(e) for e in ENTITIES for t in AlproImageTemplates().templates
    ]
    assert seen == video_prompts + image_prompts
    assert 'a circle moving.' in seen
    assert not any(p.startswith('A footage') for p in seen)
