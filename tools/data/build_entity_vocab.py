"""Build PEM's entity list: the most frequent nouns of pre-training captions.

ALPRO's prompter scores a video crop against prompts built from entities,
the 1000 most frequent nouns of the pre-training captions (the release ships
them as ``unigrams.txt``). This tool makes such a list from annotation files
as users have them, read with alpro's own dataset readers, told apart by the
extension:

* ``.csv`` (official WebVid) and ``.pkl`` (ALPRO's WebVid DataFrame; a
  pickle can run code, name only one you trust; needs pandas):
  :class:`~alpro.datasets.WebVidDataset`;
* ``.json`` (ALPRO's CC-3M) and ``.tsv`` (original CC-3M):
  :class:`~alpro.datasets.CC3MDataset`; every caption of a record counts.

Nouns come from the first tagger available (``--tagger auto``):

1. spaCy with the ``en_core_web_sm`` model installed, as in the paper:
   tokens tagged ``NOUN`` (not ``PROPN``), counted by lower-cased lemma;
2. NLTK's averaged perceptron tagger, if its data is already on disk
   (nothing is downloaded): tokens tagged ``NN``/``NNS``, plurals made
   singular by the rules below;
3. a rule-based FALLBACK without any model (:func:`rule_nouns`). It lower-
   cases the caption, splits it into runs of letters and drops, from built-in
   lists: function words (articles, pronouns, prepositions, conjunctions,
   auxiliaries, common adverbs), number words, direction words (``left``,
   ``upward``, ...), common adjectives including colours (also
   ``orange``/``olive``, which mostly describe a colour in captions) and
   sizes, words ending in ``-ly`` (a few nouns like ``family`` kept), words
   of one letter, and verb forms of listed common verbs: their ``-ing``,
   ``-ed`` and irregular past forms always (listed ``-ing`` nouns such as
   ``drawing`` kept), their base and ``-s`` forms unless the verb is also a
   common visible noun (``wave``, ``drink``, ``park``, ...). Every other
   word counts as a noun. Plurals are made singular: irregular ones from
   a table (``men`` -> ``man``, ``leaves`` -> ``leaf``); ``-men`` after a
   consonant or ``e`` -> ``-man`` (``firemen``); otherwise a word in ``-s``
   becomes the first of its candidate singulars (without ``-s``, without
   ``-es``, ``-ies`` -> ``-y``) that occurs itself in the captions
   (``boxes`` -> ``box`` when ``box`` occurs), else the default rule:
   ``-ies`` -> ``-y``; ``-sses``, ``-xes``, ``-ches``, ``-shes``, ``-zzes``
   and ``-uses`` (not ``-ouses``/``-auses``) lose ``es``; any other ``-s``
   loses ``s``; ``-ss``, ``-us``, ``-is``, words under 4 letters and listed
   ones like ``news`` stay. It is a heuristic: it counts
   an unlisted adjective or verb as a noun and misses nouns that double as
   listed words. Install spaCy and its model for the paper's behaviour.

Written: ``--out`` with one entity per line, most frequent first, ties in
alphabetical order (a line's first token is the entity, ALPRO's
``unigrams.txt`` convention; :func:`alpro.datasets.load_entities` reads it),
and ``<out stem>.counts.tsv`` beside it with ``entity<TAB>count`` lines in
the same order.

Example::

    python tools/data/build_entity_vocab.py \\
        data/webvid/results_2M_train.csv data/cc3m/cc3m.json \\
        --out data/entities.txt --top-k 1000
"""
import argparse
import os.path as osp
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import (Callable, Collection, Iterable, List, Optional, Sequence,
                    Tuple)

__all__ = [
    'read_captions', 'rule_nouns', 'spacy_nouns', 'nltk_nouns', 'singularise',
    'is_rule_noun', 'select_tagger', 'top_entities', 'write_entities', 'main'
]

TAGGERS = ('auto', 'spacy', 'nltk', 'rules')
SPACY_MODEL = 'en_core_web_sm'
# alpro.datasets (and torch) load on first read, so that --help is quick.
READERS = {
    '.csv': 'WebVidDataset',
    '.pkl': 'WebVidDataset',
    '.json': 'CC3MDataset',
    '.tsv': 'CC3MDataset',
}

#: counts nouns (lower-case, singular) in captions
NounCounter = Callable[[Iterable[str]], Counter]


def _words(text: str) -> frozenset:
    return frozenset(text.split())


# ---------------------------------------------------------------- word lists
# Closed-class words and common adverbs: never nouns in a caption.
STOPWORDS = _words("""
    a an the this that these those some any each every either neither no not
    nor all both such own same other another so than too very just only also
    even still yet already again ever never always often sometimes usually
    here there where when why how what which who whom whose whether if unless
    because since while as though although however therefore then now soon
    later once twice together maybe perhaps almost quite rather else instead
    i me my mine myself we us our ours ourselves you your yours yourself
    yourselves he him his himself she her hers herself it its itself they
    them their theirs themselves someone somebody something somewhere anyone
    anybody anything anywhere everyone everybody everything everywhere nobody
    nothing nowhere none about above after against along among amid at before
    behind below beneath beside besides between beyond by during except for
    from in inside into like near nearby of off on onto out outside over past
    per through throughout till to under underneath until upon with within
    without via and or but plus be am is are was were been being have has
    had having do does did doing done will would shall should can could may
    might must cannot ought ll ve re let lets ok okay yes oh hey please
    many much more most less least few several lot lots various""")
# The letter tokeniser splits "didn't" into "didn" and "t".
STOPWORDS |= frozenset(
    w + 'n' for w in 'do does did is are was were would could should has have '
    'had'.split())
NUMBERS = _words("""
    zero one two three four five six seven eight nine ten eleven twelve
    thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty
    thirty forty fifty sixty seventy eighty ninety hundred hundreds thousand
    thousands million millions billion dozen dozens first second third fourth
    fifth sixth seventh eighth ninth tenth last next""")
# Directions and positions: a tagger may call 'left' a noun in 'to the
# left', but none of them names an entity a region can show.
DIRECTIONS = _words("""
    left right up down upward upwards downward downwards leftward leftwards
    rightward rightwards forward forwards backward backwards sideways onward
    onwards inward inwards outward outwards toward towards around across
    along away ahead aside apart overhead upside underside diagonal
    diagonals""")
COLOURS = _words("""
    red green blue yellow purple orange white black cyan magenta pink brown
    grey gray golden gold silver violet beige turquoise teal navy maroon
    olive charcoal crimson scarlet indigo lime khaki tan ivory amber
    colorful colourful colored coloured multicolored multicoloured
    monochrome""")
SIZES = _words("""
    small tiny little large big huge giant enormous massive mini tall short
    long wide narrow thin thick high low deep shallow""")
ADJECTIVES = _words("""
    good bad new old young beautiful pretty happy sad angry hot cold warm
    cool dark bright clear full empty open closed close simple plain solid
    flat smooth rough soft hard wet dry clean dirty fresh sunny cloudy rainy
    snowy foggy windy misty vertical horizontal random striped stripy
    checkered chequered speckled grainy noisy shaded spotted dotted
    patterned abstract modern ancient traditional natural real whole entire
    single double main central local national international public private
    social male female slow fast quick busy quiet calm famous rich poor
    strong weak heavy free easy difficult important special great nice cute
    lovely funny elderly asian african american european caucasian indian
    chinese japanese different similar amazing scenic aerial vintage retro
    urban rural tropical wild wooden live""")
# -ly words that are nouns.
LY_NOUNS = _words("""
    family fly butterfly dragonfly firefly belly jelly lily ally rally bully
    holly assembly supply reply anomaly monopoly gully italy july""")
# Common caption verbs (lemmas). Their -ing, -ed and irregular past forms
# are always dropped; their base and -s forms too, unless listed in
# NOUN_VERBS.
VERBS = _words("""
    move slide drift glide travel float shift walk run jump sit stand lie lay
    hang hold carry wear look watch see stare smile laugh cry talk speak say
    sing dance play eat drink cook bake cut chop pour mix stir wash clean
    open close turn spin rotate roll bounce fly swim dive ride drive sail
    surf ski skate climb fall rise fill throw catch kick hit push pull lift
    drop pick put place use work read write draw paint build make take give
    get go come leave arrive enter exit follow chase reach touch grow change
    appear disappear begin start stop end try help want need like love feel
    keep seem become call find bring show wait prepare record film shoot
    hover zoom pan tilt fade glow shine burn blow flow splash wave hug kiss
    shake nod point type hike fish land park wander approach sparkle flash
    flicker shimmer descend ascend emerge crash break melt boil grill
    stretch relax enjoy celebrate meet pose lean kneel crawl hunt graze feed
    lick bite chew explore search discuss explain perform decorate dig wipe
    sew knit scroll tap swipe hide sleep wake sink chat shout scream whisper
    listen hear smell taste think learn teach study check share""")
# Verbs that are also common visible nouns: base and -s forms count as
# the noun ('ocean waves', 'a park').
NOUN_VERBS = _words("""
    wave drink park land fish film pan drop fly ski paint watch grill""")
# -ing words that are nouns although their stem is a listed verb.
ING_NOUNS = _words("""
    building drawing painting landing opening ending recording writing
    filling parking beginning clothing""")
IRREGULAR_VERB_FORMS = _words("""
    ran sat stood lain hung held wore worn spoke spoken said sang sung ate
    eaten drank drunk spun rode ridden drove driven swam swum flew flown
    fell fallen rose risen threw thrown caught built drew drawn made took
    taken gave given got gotten went gone came found brought shown became
    kept felt began begun shook shaken blew blown grew grown knew known
    bought sold told stuck hid hidden slid led lit sent spent won lost met
    paid struck swung woke wrote written broke broken chose chosen froze
    frozen bit bitten dug fought fled knelt leapt slept split spread sprang
    stole stolen swept taught tore torn understood seen""")
IRREGULAR_PLURALS = {
    'men': 'man',
    'women': 'woman',
    'children': 'child',
    'feet': 'foot',
    'teeth': 'tooth',
    'mice': 'mouse',
    'geese': 'goose',
    'oxen': 'ox',
    'leaves': 'leaf',
    'wolves': 'wolf',
    'knives': 'knife',
    'wives': 'wife',
    'shelves': 'shelf',
    'halves': 'half',
    'calves': 'calf',
    'thieves': 'thief',
    'loaves': 'loaf',
    'scarves': 'scarf',
    'elves': 'elf',
    'movies': 'movie',
    'cookies': 'cookie',
    'zombies': 'zombie',
    'selfies': 'selfie',
    'hoodies': 'hoodie',
    'brownies': 'brownie',
}
# Words ending in -s that are singular or have no singular.
INVARIANT_S = _words("""
    news lens series species canvas atlas clothes pants jeans shorts
    scissors means physics mathematics athletics gymnastics politics
    economics christmas""")
NON_NOUNS = STOPWORDS | NUMBERS | DIRECTIONS | COLOURS | SIZES | ADJECTIVES
# Runs of letters (any script), no digits or underscores.
_LETTERS = re.compile(r'[^\W\d_]+')


# ------------------------------------------------------------------ reading
def read_captions(ann_file: str) -> List[str]:
    """Every caption of an annotation file, read by alpro's datasets.

    Args:
        ann_file: a WebVid ``.csv``/``.pkl`` or a CC-3M ``.json``/``.tsv``.

    Returns:
        the captions in file order; a CC-3M record gives all its captions.

    Raises:
        FileNotFoundError: ``ann_file`` does not exist.
        ValueError: unknown extension, or a malformed file (an
            :class:`~alpro.datasets.AnnotationError`, naming the line).
    """
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'annotation file {ann_file} not found')
    ext = osp.splitext(ann_file)[1].lower()
    if ext not in READERS:
        raise ValueError(
            f'{ann_file}: cannot tell the annotation form from {ext!r}; '
            'expected .csv or .pkl (WebVid) or .json or .tsv (CC-3M)')
    # No media root: paths are neither joined nor checked. Kept as a list
    # (not serialised) so that a CC-3M record still holds all its captions.
    from alpro import datasets
    dataset = getattr(datasets, READERS[ext])(
        ann_file=ann_file, lazy_init=False, serialize_data=False)
    captions = []
    for info in dataset.data_list:
        captions.extend(info['captions'] if 'captions' in
                        info else [info['text']])
    return captions


# ------------------------------------------------------- rule-based fallback
def singularise(word: str, seen: Collection[str] = ()) -> str:
    """Make a lower-case plural noun singular (the fallback's lemmatiser).

    Args:
        word: a lower-case noun.
        seen: words that occur as nouns themselves; a candidate singular
            found there wins over the default rule.

    Returns:
        the singular: ``word`` itself when it does not look plural.
    """
    if word in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[word]
    # businessmen, firemen; not specimen, abdomen, stamen, acumen
    if (word.endswith('men') and len(word) > 5 and word[-4] not in 'aiouy'
            and word != 'semen'):
        return word[:-3] + 'man'
    if (len(word) < 4 or not word.endswith('s') or word in INVARIANT_S
            or word.endswith(('ss', 'us', 'is'))):
        return word
    for candidate in _stems(word, 's'):
        if candidate in seen:
            return candidate
    if word.endswith('ies') and len(word) > 4:
        return word[:-3] + 'y'
    if (word.endswith(('sses', 'xes', 'ches', 'shes', 'zzes', 'uses'))
            and not word.endswith(('ouses', 'auses'))):
        return word[:-2]
    return word[:-1]


def _stems(word: str, suffix: str) -> List[str]:
    """Candidate lemmas of ``word`` without its ``-ing``/``-ed``/``-s``."""
    stem = word[:-len(suffix)]
    if suffix == 's':
        stems = [stem]
        if word.endswith('es'):
            stems.append(word[:-2])
        if word.endswith('ies'):
            stems.append(word[:-3] + 'y')
        return stems
    stems = [stem, stem + 'e']
    if len(stem) > 2 and stem[-1] == stem[-2]:  # running, travelled
        stems.append(stem[:-1])
    if suffix == 'ing' and stem.endswith('y'):  # lying
        stems.append(stem[:-1] + 'ie')
    if suffix == 'ed' and stem.endswith('i'):  # carried
        stems.append(stem[:-1] + 'y')
    return stems


def _is_verb_form(word: str) -> bool:
    if word in IRREGULAR_VERB_FORMS:
        return True
    if word in VERBS:
        return word not in NOUN_VERBS
    if word.endswith('ing') and len(word) > 4 and word not in ING_NOUNS:
        return any(s in VERBS for s in _stems(word, 'ing'))
    if word.endswith('ed') and len(word) > 3:
        return any(s in VERBS for s in _stems(word, 'ed'))
    if word.endswith('s') and len(word) > 3:
        return any(
            s in VERBS and s not in NOUN_VERBS for s in _stems(word, 's'))
    return False


@lru_cache(maxsize=1 << 16)
def is_rule_noun(word: str) -> bool:
    """Whether the fallback counts a lower-case word as a noun.

    Args:
        word: a lower-case run of letters.

    Returns:
        False for one-letter words, listed non-nouns, ``-ly`` words (but
        :data:`LY_NOUNS`) and verb forms of :data:`VERBS`; True otherwise.
    """
    if len(word) < 2 or word in NON_NOUNS:
        return False
    if word.endswith('ly') and word not in LY_NOUNS:
        return False
    return not _is_verb_form(word)


def _merge_plurals(counts: Counter,
                   plurals: Optional[Collection[str]] = None) -> Counter:
    """Add each plural's count to its singular.

    Args:
        counts: word counts.
        plurals: the words to make singular; every word when None.

    Returns:
        the merged counts.
    """
    merged = Counter()
    for word, count in counts.items():
        if plurals is None or word in plurals:
            word = singularise(word, counts)
        merged[word] += count
    return merged


def rule_nouns(captions: Iterable[str]) -> Counter:
    """Count nouns with the rule-based fallback (see the module docstring).

    Args:
        captions: the captions.

    Returns:
        lower-case singular noun -> occurrences.
    """
    counts = Counter()
    for caption in captions:
        counts.update(
            w for w in _LETTERS.findall(caption.lower()) if is_rule_noun(w))
    return _merge_plurals(counts)


# ------------------------------------------------------------------ taggers
def spacy_nouns(captions: Iterable[str], nlp) -> Counter:
    """Count nouns with a loaded spaCy pipeline, as the paper did.

    Args:
        captions: the captions.
        nlp: ``spacy.load(...)`` with a tagger and a lemmatizer.

    Returns:
        lower-case lemma of every ``NOUN`` token -> occurrences.
    """
    counts = Counter()
    for doc in nlp.pipe(captions, batch_size=1000):
        for token in doc:
            lemma = token.lemma_.lower()
            if token.pos_ == 'NOUN' and len(lemma) > 1 and lemma.isalpha():
                counts[lemma] += 1
    return counts


_NLTK_TOKENS = re.compile(r"[^\W\d_]+|'[a-z]+|\d+|[^\w\s]")


def nltk_nouns(captions: Iterable[str], tagger) -> Counter:
    """Count nouns with NLTK's averaged perceptron tagger.

    Args:
        captions: the captions.
        tagger: an ``nltk.tag.PerceptronTagger`` (``.tag(tokens)``).

    Returns:
        lower-case ``NN``/``NNS`` token -> occurrences, plurals made
        singular by :func:`singularise`.
    """
    counts, plurals = Counter(), set()
    for caption in captions:
        for token, tag in tagger.tag(_NLTK_TOKENS.findall(caption)):
            word = token.lower()
            if tag in ('NN', 'NNS') and len(word) > 1 and word.isalpha():
                counts[word] += 1
                if tag == 'NNS':
                    plurals.add(word)
    return _merge_plurals(counts, plurals)


def _load_spacy() -> Tuple[Optional[NounCounter], str]:
    """spaCy's noun counter, or None and why it is unavailable."""
    try:
        import spacy
    except ImportError:
        return None, 'spaCy is not installed'
    try:
        nlp = spacy.load(SPACY_MODEL, disable=['parser', 'ner'])
    except (ImportError, OSError) as error:
        return None, (f'spaCy has no {SPACY_MODEL} model '
                      f'({str(error).splitlines()[0][:80]})')
    return lambda captions: spacy_nouns(captions, nlp), ''


def _load_nltk() -> Tuple[Optional[NounCounter], str]:
    """NLTK's noun counter, or None and why it is unavailable."""
    try:
        import nltk
    except ImportError:
        return None, 'NLTK is not installed'
    try:
        tagger = nltk.tag.PerceptronTagger()  # reads from disk only
    except (LookupError, OSError) as error:
        return None, ('NLTK has no averaged perceptron tagger data on disk '
                      f'({type(error).__name__})')
    return lambda captions: nltk_nouns(captions, tagger), ''


HOW_TO_INSTALL = {
    'spacy': ('pip install spacy, then install the en_core_web_sm model '
              '(`python -m spacy download en_core_web_sm` or its wheel)'),
    'nltk': ("pip install nltk, then `python -m nltk.downloader "
             "averaged_perceptron_tagger_eng` (or _tagger for NLTK < 3.9)"),
}


def select_tagger(name: str = 'auto') -> Tuple[str, NounCounter, str]:
    """Load the tagger ``name``, or for ``'auto'`` the first available.

    Args:
        name: one of :data:`TAGGERS`; ``'auto'`` tries spaCy, then NLTK,
            then falls back to the rules.

    Returns:
        ``(used, count_nouns, note)``: the tagger's name, its noun counter
        and, when ``'auto'`` passed over a tagger, why.

    Raises:
        RuntimeError: an explicitly named tagger is unavailable; the message
            says how to install it.
    """
    if name not in TAGGERS:
        raise ValueError(f'unknown tagger {name!r}; expected one of {TAGGERS}')
    if name == 'rules':
        return 'rules', rule_nouns, ''
    loaders = dict(spacy=_load_spacy, nltk=_load_nltk)
    if name != 'auto':
        counter, why = loaders[name]()
        if counter is None:
            raise RuntimeError(
                f'--tagger {name}: {why}. {HOW_TO_INSTALL[name]}'
                '; or use --tagger rules')
        return name, counter, ''
    reasons = []
    for candidate, loader in loaders.items():
        counter, why = loader()
        if counter is not None:
            return candidate, counter, '; '.join(reasons)
        reasons.append(why)
    return 'rules', rule_nouns, '; '.join(reasons)


# ------------------------------------------------------------------ writing
def top_entities(counts: Counter,
                 top_k: int = 1000,
                 min_count: int = 1) -> List[Tuple[str, int]]:
    """The ``top_k`` most frequent entities, ties in alphabetical order.

    Args:
        counts: entity -> occurrences.
        top_k: how many to keep at most.
        min_count: drop entities seen fewer times.

    Returns:
        ``[(entity, count), ...]``, most frequent first.
    """
    ranked = sorted((item for item in counts.items() if item[1] >= min_count),
                    key=lambda item: (-item[1], item[0]))
    return ranked[:top_k]


def counts_path(out: str) -> Path:
    """The side file of ``out``: ``<out stem>.counts.tsv`` beside it."""
    out = Path(out)
    return out.with_name(out.stem + '.counts.tsv')


def write_entities(entities: Sequence[Tuple[str, int]], out: str) -> Path:
    """Write the entity list and its counts side file.

    Args:
        entities: ``[(entity, count), ...]`` in order.
        out: the entity list, one entity per line.

    Returns:
        the counts side file (``entity<TAB>count`` lines).
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    side = counts_path(str(out))
    with open(out, 'w', encoding='utf-8') as f:
        f.writelines(f'{entity}\n' for entity, _ in entities)
    with open(side, 'w', encoding='utf-8') as f:
        f.writelines(f'{entity}\t{count}\n' for entity, count in entities)
    return side


# --------------------------------------------------------------------- main
def parse_args(
    argv: Optional[Sequence[str]] = None
) -> Tuple[argparse.ArgumentParser, argparse.Namespace]:
    """Parse the command line; return the parser too, for its errors."""
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        epilog=__doc__.split('\n\n', 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        'ann_files',
        nargs='+',
        metavar='ANN_FILE',
        help='WebVid .csv/.pkl or CC-3M .json/.tsv annotation files')
    parser.add_argument(
        '--out',
        required=True,
        help='entity list to write (one entity per line); the counts go to '
        '<out stem>.counts.tsv beside it')
    parser.add_argument(
        '--top-k', type=int, default=1000, help='entities to write at most')
    parser.add_argument(
        '--tagger',
        choices=TAGGERS,
        default='auto',
        help='noun tagger: spaCy (en_core_web_sm), NLTK (perceptron tagger '
        'data on disk), or the rule-based fallback (word lists, no model; '
        'see below); auto = the first available in that order')
    parser.add_argument(
        '--min-count',
        type=int,
        default=1,
        help='leave out nouns seen fewer times')
    args = parser.parse_args(argv)
    if args.top_k < 1:
        parser.error('--top-k must be at least 1')
    if args.min_count < 1:
        parser.error('--min-count must be at least 1')
    return parser, args


def main(argv: Optional[Sequence[str]] = None) -> List[Tuple[str, int]]:
    """Build the entity list; see the module docstring.

    Returns:
        the ``(entity, count)`` pairs written.
    """
    parser, args = parse_args(argv)
    try:
        # fail before hours of reading when a later file is missing
        for ann_file in args.ann_files:
            if not osp.isfile(ann_file):
                raise FileNotFoundError(
                    f'annotation file {ann_file} not found')
        used, count_nouns, note = select_tagger(args.tagger)
        captions = [c for f in args.ann_files for c in read_captions(f)]
    except (OSError, ValueError, RuntimeError, ImportError) as error:
        parser.error(str(error))
    print(f'tagger: {used}' + (f' ({note})' if note else ''))
    counts = count_nouns(captions)
    entities = top_entities(counts, args.top_k, args.min_count)
    if not entities:
        parser.error(f'no noun seen at least {args.min_count} times in '
                     f'{len(captions)} captions; nothing written')
    side = write_entities(entities, args.out)
    print(f'{len(captions)} captions from {len(args.ann_files)} file(s), '
          f'{len(counts)} distinct nouns, {len(entities)} entities written '
          f'to {args.out} (counts: {side}), tagger: {used}')
    return entities


if __name__ == '__main__':
    main()
