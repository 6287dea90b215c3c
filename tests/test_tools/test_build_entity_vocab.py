"""Tests of tools/data/build_entity_vocab.py."""
import json
import subprocess
import sys
import types
from collections import Counter
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from alpro.datasets import load_entities
from tests.tool_modules import load_tool

bev = load_tool('tools/data/build_entity_vocab.py')
SCRIPT = Path(bev.__file__)

CAPTIONS = [
    'a red circle moves to the left', 'two circles and a square',
    'the dog quickly runs over the grass'
]
CSV_HEADER = 'videoid,contentUrl,duration,page_dir,name\n'


# ------------------------------------------------------------ the fallback
def test_rule_nouns_on_known_captions():
    # colour ('red'), number ('two'), -ly adverb, verbs ('moves', 'runs'),
    # direction ('left') and function words are dropped; 'circles' merges
    # into 'circle'
    assert bev.rule_nouns(CAPTIONS) == Counter(
        circle=2, square=1, dog=1, grass=1)


def test_rule_nouns_demo_style_caption():
    caption = ('A small blue square slides upward across a striped '
               'background.')
    assert bev.rule_nouns([caption]) == Counter(square=1, background=1)


@pytest.mark.parametrize('word', [
    'the', 'of', 'is', 'they', 'two', 'first', 'red', 'orange', 'olive',
    'cyan', 'small', 'big', 'striped', 'left', 'upward', 'quickly',
    'diagonally', 'moves', 'moving', 'moved', 'move', 'travelling', 'carried',
    'lying', 'ran', 'sitting', 'walks', 'x'
])
def test_rule_drops_non_nouns(word: str):
    assert not bev.is_rule_noun(word)


@pytest.mark.parametrize('word', [
    'circle', 'dog', 'family', 'butterfly', 'drawing', 'building', 'thing',
    'morning', 'bed', 'waves', 'wave', 'park', 'grass', 'background', 'front'
])
def test_rule_keeps_nouns(word: str):
    assert bev.is_rule_noun(word)


@pytest.mark.parametrize('plural, seen, singular', [
    ('circles', (), 'circle'),
    ('boxes', (), 'box'),
    ('churches', (), 'church'),
    ('glasses', (), 'glass'),
    ('buses', (), 'bus'),
    ('houses', (), 'house'),
    ('horses', (), 'horse'),
    ('puppies', (), 'puppy'),
    ('pies', (), 'pie'),
    ('movies', (), 'movie'),
    ('heroes', (), 'heroe'),
    ('heroes', ('hero', ), 'hero'),
    ('men', (), 'man'),
    ('leaves', (), 'leaf'),
    ('firemen', (), 'fireman'),
    ('specimen', (), 'specimen'),
    ('grass', (), 'grass'),
    ('bus', (), 'bus'),
    ('news', (), 'news'),
    ('dog', (), 'dog'),
])
def test_singularise(plural: str, seen: Tuple[str, ...], singular: str):
    assert bev.singularise(plural, seen) == singular


def test_plurals_merge_into_the_singular_seen():
    assert bev.rule_nouns(['two heroes', 'a hero',
                           'heroes']) == Counter(hero=3)
    # 'wave' is a verb that is also a visible noun: its -s form counts
    assert bev.rule_nouns(['waves crash', 'a big wave']) == Counter(wave=2)


def test_top_entities_ties_alphabetical_and_top_k():
    counts = Counter(beta=2, alpha=2, gamma=3, delta=1)
    assert bev.top_entities(counts, 3) == [('gamma', 3), ('alpha', 2),
                                           ('beta', 2)]
    assert bev.top_entities(
        counts, 10, min_count=2) == [('gamma', 3), ('alpha', 2), ('beta', 2)]
    assert [e for e, _ in bev.top_entities(counts, 10)
            ] == ['gamma', 'alpha', 'beta', 'delta']
    assert bev.top_entities(counts, 1) == [('gamma', 3)]


# ---------------------------------------------------------------- readers
def write_annotations(root: Path) -> Dict[str, Path]:
    """One tiny file of each annotation form."""
    import pandas
    files = dict(
        csv=root / 'results_2M_train.csv',
        pkl=root / 'train.pkl',
        json=root / 'cc3m.json',
        tsv=root / 'Train_GCC-training.tsv')
    files['csv'].write_text(
        CSV_HEADER + '1,http://x/1.mp4,PT00H00M05S,000001_000050,'
        'a dog runs on the beach\n'
        '2,http://x/2.mp4,PT00H00M05S,000001_000050,'
        '"two dogs, a ball and a beach"\n'
        '3,http://x/3.mp4,PT00H00M05S,,a dropped row about a cat\n')
    pandas.DataFrame(
        dict(
            video_id=['v/1', 'v/2'],
            text=['a horse in a field', 'too long a caption about a cow'],
            txt_len=[5, 80])).to_pickle(files['pkl'])
    files['json'].write_text(
        json.dumps([{
            'image':
            'a.jpg',
            'caption': ['a cat on a sofa', 'the cat sleeps on the sofa']
        }, {
            'image': 'b.jpg',
            'caption': 'a ball on the grass'
        }]))
    files['tsv'].write_text('a horse and a dog\thttp://x/1.jpg\n'
                            'the beach at sunset\thttp://x/2.jpg\n')
    return files


EXPECTED_CAPTIONS = dict(
    csv=['a dog runs on the beach', 'two dogs, a ball and a beach'],
    pkl=['a horse in a field'],  # txt_len >= 80 is dropped, as in ALPRO
    json=[
        'a cat on a sofa', 'the cat sleeps on the sofa', 'a ball on the grass'
    ],
    tsv=['a horse and a dog', 'the beach at sunset'])


@pytest.mark.parametrize('form', sorted(EXPECTED_CAPTIONS))
def test_read_captions_each_form(tmp_path: Path, form: str):
    files = write_annotations(tmp_path)
    assert bev.read_captions(str(files[form])) == EXPECTED_CAPTIONS[form]


def test_main_writes_list_and_counts(tmp_path: Path, capsys):
    files = write_annotations(tmp_path)
    out = tmp_path / 'vocab' / 'entities.txt'
    written = bev.main([
        *map(str, files.values()), '--out',
        str(out), '--tagger', 'rules', '--top-k', '5'
    ])
    # ties at 2 (ball, cat, horse, sofa) alphabetical, sofa cut by top-k
    expected = [('beach', 3), ('dog', 3), ('ball', 2), ('cat', 2),
                ('horse', 2)]
    assert written == expected
    assert out.read_text() == ''.join(f'{e}\n' for e, _ in expected)
    side = tmp_path / 'vocab' / 'entities.counts.tsv'
    assert side.read_text() == ''.join(f'{e}\t{c}\n' for e, c in expected)
    lines = capsys.readouterr().out.strip().splitlines()
    assert 'tagger: rules' in lines
    summary = lines[-1]
    assert '8 captions from 4 file(s)' in summary
    assert '9 distinct nouns' in summary  # + sofa, field, grass, sunset
    assert '5 entities written' in summary and 'tagger: rules' in summary
    assert load_entities(str(out)) == [e for e, _ in expected]


def test_min_count(tmp_path: Path):
    files = write_annotations(tmp_path)
    out = tmp_path / 'entities.txt'
    bev.main([
        str(files['csv']), '--out',
        str(out), '--tagger', 'rules', '--min-count', '2'
    ])
    assert out.read_text() == 'beach\ndog\n'


def test_missing_file_is_named(tmp_path: Path, capsys):
    files = write_annotations(tmp_path)
    missing = tmp_path / 'nowhere' / 'results_2M_val.csv'
    with pytest.raises(SystemExit) as error:
        bev.main([
            str(files['csv']),
            str(missing), '--out',
            str(tmp_path / 'e.txt')
        ])
    assert error.value.code == 2
    assert f'annotation file {missing} not found' in capsys.readouterr().err
    assert not (tmp_path / 'e.txt').exists()


def test_unknown_extension_is_refused(tmp_path: Path, capsys):
    bad = tmp_path / 'captions.txt'
    bad.write_text('a dog\n')
    with pytest.raises(SystemExit):
        bev.main([str(bad), '--out', str(tmp_path / 'e.txt')])
    err = capsys.readouterr().err
    assert str(bad) in err and '.csv or .pkl' in err


def test_no_noun_is_an_error(tmp_path: Path, capsys):
    ann = tmp_path / 'c.tsv'
    ann.write_text('the red one\thttp://x/1.jpg\n')
    with pytest.raises(SystemExit):
        bev.main(
            [str(ann), '--out',
             str(tmp_path / 'e.txt'), '--tagger', 'rules'])
    assert 'no noun seen' in capsys.readouterr().err
    assert not (tmp_path / 'e.txt').exists()


@pytest.mark.parametrize('args', [['--top-k', '0'], ['--min-count', '0']])
def test_bad_arguments(tmp_path: Path, args: List[str]):
    files = write_annotations(tmp_path)
    with pytest.raises(SystemExit):
        bev.main([str(files['csv']), '--out', str(tmp_path / 'e.txt'), *args])


# ---------------------------------------------------------------- taggers
def real_tagger_available() -> str:
    """What ``auto`` must pick on this machine, found independently."""
    try:
        import spacy
        spacy.load(bev.SPACY_MODEL)
        return 'spacy'
    except (ImportError, OSError):
        pass
    try:
        import nltk
        nltk.tag.PerceptronTagger()
        return 'nltk'
    except (ImportError, LookupError, OSError):
        return 'rules'


def test_auto_picks_what_this_machine_has():
    used, count_nouns, note = bev.select_tagger('auto')
    assert used == real_tagger_available()
    counts = count_nouns(CAPTIONS)
    assert {'circle', 'square', 'dog', 'grass'} <= set(counts)
    assert 'red' not in counts
    if used == 'rules':
        assert 'spaCy' in note and 'NLTK' in note  # says why


def fake_spacy(model: bool = True) -> types.ModuleType:
    """A stand-in for spaCy: whitespace tokens, tags from a table."""
    tags = dict(
        circle='NOUN',
        circles='NOUN',
        square='NOUN',
        paris='PROPN',
        red='ADJ',
        moves='VERB')
    lemmas = dict(circles='circle', moves='move')

    class Pipeline:

        def pipe(self, texts, batch_size=1):
            for text in texts:
                yield [
                    types.SimpleNamespace(
                        text=w,
                        pos_=tags.get(w.lower(), 'DET'),
                        lemma_=lemmas.get(w.lower(), w)) for w in text.split()
                ]

    def load(name, disable=()):
        if not model:
            raise OSError(f"[E050] Can't find model '{name}'.")
        assert name == 'en_core_web_sm'
        return Pipeline()

    return types.SimpleNamespace(load=load)


def fake_nltk(data: bool = True) -> types.ModuleType:
    """A stand-in for NLTK whose tagger knows a few words."""
    tags = dict(circle='NN', circles='NNS', square='NN', red='JJ')

    class PerceptronTagger:

        def __init__(self):
            if not data:
                raise LookupError('Resource averaged_perceptron_tagger_eng '
                                  'not found.')

        def tag(self, tokens):
            return [(t, tags.get(t.lower(), 'DT')) for t in tokens]

    return types.SimpleNamespace(
        tag=types.SimpleNamespace(PerceptronTagger=PerceptronTagger))


@pytest.mark.parametrize('spacy, nltk, expected', [
    (fake_spacy(), fake_nltk(), 'spacy'),
    (fake_spacy(model=False), fake_nltk(), 'nltk'),
    (None, fake_nltk(), 'nltk'),
    (None, fake_nltk(data=False), 'rules'),
    (fake_spacy(model=False), None, 'rules'),
    (None, None, 'rules'),
])
def test_auto_order(monkeypatch, spacy, nltk, expected: str):
    # None in sys.modules makes `import` raise ImportError
    monkeypatch.setitem(sys.modules, 'spacy', spacy)
    monkeypatch.setitem(sys.modules, 'nltk', nltk)
    used, count_nouns, note = bev.select_tagger('auto')
    assert used == expected
    counts = count_nouns(['A red circle moves', 'two Circles and a square'])
    assert counts == Counter(circle=2, square=1)
    if expected == 'rules':
        assert 'spaCy' in note and 'NLTK' in note


def test_spacy_counts_noun_lemmas_only(monkeypatch):
    monkeypatch.setitem(sys.modules, 'spacy', fake_spacy())
    _, count_nouns, _ = bev.select_tagger('spacy')
    assert count_nouns(['Circles in Paris', 'a red square moves']) == Counter(
        circle=1, square=1)


def test_auto_falls_back_to_rules_in_main(monkeypatch, tmp_path: Path, capsys):
    monkeypatch.setitem(sys.modules, 'spacy', None)
    monkeypatch.setitem(sys.modules, 'nltk', None)
    files = write_annotations(tmp_path)
    bev.main([str(files['tsv']), '--out', str(tmp_path / 'e.txt')])
    out = capsys.readouterr().out
    assert out.startswith('tagger: rules (spaCy is not installed; NLTK is '
                          'not installed)')
    assert out.strip().endswith('tagger: rules')


@pytest.mark.parametrize('tagger, hint', [('spacy', 'pip install spacy'),
                                          ('nltk', 'pip install nltk')])
def test_named_tagger_missing_says_how_to_install(monkeypatch, tmp_path: Path,
                                                  capsys, tagger: str,
                                                  hint: str):
    monkeypatch.setitem(sys.modules, tagger, None)
    with pytest.raises(RuntimeError, match=hint):
        bev.select_tagger(tagger)
    files = write_annotations(tmp_path)
    with pytest.raises(SystemExit):
        bev.main([
            str(files['tsv']), '--out',
            str(tmp_path / 'e.txt'), '--tagger', tagger
        ])
    assert '--tagger rules' in capsys.readouterr().err


def test_real_spacy_if_installed():
    pytest.importorskip('spacy')
    pytest.importorskip(bev.SPACY_MODEL)
    used, count_nouns, _ = bev.select_tagger('spacy')
    counts = count_nouns(CAPTIONS)
    assert counts['circle'] == 2 and counts['square'] == 1
    assert 'red' not in counts


# ------------------------------------------------------------------- demo
def test_demo_corpus_end_to_end(demo_corpus: Path, tmp_path: Path, capsys):
    """The generated demo corpus, its CSV and JSON, through the CLI."""
    demo = demo_corpus / 'data' / 'demo'
    meta = json.loads((demo / 'meta.json').read_text())
    out = tmp_path / 'entities.txt'
    bev.main([
        str(demo / 'annotations' / 'results_demo_train.csv'),
        str(demo / 'annotations' / 'cc3m_demo.json'), '--out',
        str(out), '--top-k', '12', '--tagger', 'rules'
    ])
    assert 'tagger: rules' in capsys.readouterr().out
    entities = load_entities(str(out))
    assert len(entities) == 12
    assert set(meta['shapes']) <= set(entities), entities
    colours = set(meta['colours']) | set(meta['background_colours'])
    assert not colours & set(entities), entities
    all_counts = dict(
        line.split('\t')
        for line in (tmp_path /
                     'entities.counts.tsv').read_text().splitlines())
    assert list(all_counts) == entities
    counts = [int(c) for c in all_counts.values()]
    assert counts == sorted(counts, reverse=True)


@pytest.mark.slow
def test_runs_as_a_script():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), '--help'],
        capture_output=True,
        text=True,
        check=True)
    assert '--tagger {auto,spacy,nltk,rules}' in result.stdout
    assert 'FALLBACK' in result.stdout  # the rules are described
