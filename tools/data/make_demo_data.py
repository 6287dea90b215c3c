"""Generate a small, learnable video-text demo corpus.

Every clip shows one coloured shape moving in one direction over a
background; its caption names the colour, the shape and the direction. The
``val`` split holds only colour-shape pairs that never occur in ``train``.
Still images of the same scenes and a WordPiece tokenizer trained on all
captions complete the corpus. See ``tools/data/README.md`` for the layout.

Example::

    python tools/data/make_demo_data.py --out data/demo --seed 0
"""
import argparse
import csv
import json
import random
import time
from collections import Counter
from dataclasses import dataclass
from functools import partial
from multiprocessing import Pool
from pathlib import Path
from typing import (Callable, Dict, Iterable, List, Optional, Sequence, Tuple,
                    TypeVar)

import cv2
import numpy as np

FPS = 8
VAL_FRACTION = 0.2
PAGE_SIZE = 50
FIRST_VIDEOID = 1_000_000_000
SPLITS = ('train', 'val')
CONTENT_URL = 'https://example.invalid/demo/{}.mp4'
IMAGE_URL = 'https://example.invalid/demo/images/{:06d}.jpg'
SPECIAL_TOKENS = ('[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]')

RGB = Tuple[int, int, int]
Point = Tuple[float, float]
T = TypeVar('T')

# Bright shape colours, far apart from each other and from the dark
# background palette below, so they survive MPEG-4 compression.
COLOURS: Dict[str, RGB] = {
    'red': (230, 30, 30),
    'green': (40, 200, 40),
    'blue': (40, 80, 240),
    'yellow': (245, 230, 40),
    'purple': (150, 50, 200),
    'orange': (250, 140, 20),
    'white': (245, 245, 245),
    'cyan': (30, 220, 230),
}
BACKGROUND_COLOURS: Dict[str, RGB] = {
    'black': (10, 10, 10),
    'charcoal': (50, 50, 55),
    'navy': (15, 25, 80),
    'maroon': (80, 15, 25),
    'olive': (70, 70, 20),
    'teal': (10, 70, 70),
    'brown': (80, 50, 25),
}


def _star_outline() -> Tuple[Point, ...]:
    """Five-pointed star, pointing up, inner radius 0.45."""
    points = []
    for k in range(10):
        radius = 1. if k % 2 == 0 else .45
        angle = np.pi * (k / 5 - .5)
        points.append(
            (radius * float(np.cos(angle)), radius * float(np.sin(angle))))
    return tuple(points)


# Outlines on the unit circle, y pointing down; ``None`` draws a disc.
SHAPE_OUTLINES: Dict[str, Optional[Tuple[Point, ...]]] = {
    'circle':
    None,
    'square': ((-.8, -.8), (.8, -.8), (.8, .8), (-.8, .8)),
    'triangle': ((0., -1.), (.866, .5), (-.866, .5)),
    'diamond': ((0., -1.), (1., 0.), (0., 1.), (-1., 0.)),
    'star':
    _star_outline(),
    'cross': ((-.35, -1.), (.35, -1.), (.35, -.35), (1., -.35), (1., .35),
              (.35, .35), (.35, 1.), (-.35, 1.), (-.35, .35), (-1., .35),
              (-1., -.35), (-.35, -.35)),
}
SHAPES = tuple(SHAPE_OUTLINES)
# Unit steps in image coordinates (x right, y down).
DIRECTIONS: Dict[str, Tuple[int, int]] = {
    'left': (-1, 0),
    'right': (1, 0),
    'up': (0, -1),
    'down': (0, 1),
    'up-left': (-1, -1),
    'up-right': (1, -1),
    'down-left': (-1, 1),
    'down-right': (1, 1),
}
BACKGROUNDS = ('plain', 'vertical gradient', 'horizontal gradient', 'stripes',
               'checkerboard', 'noise')

# Caption vocabulary. Every direction phrase contains the words of its
# direction name; no background phrase contains a colour, shape or
# direction word of the shape itself.
DIRECTION_PHRASES: Dict[str, Tuple[str, ...]] = {
    'left': ('to the left', 'left', 'leftward', 'towards the left'),
    'right': ('to the right', 'right', 'rightward', 'towards the right'),
    'up': ('up', 'upward', 'upwards'),
    'down': ('down', 'downward', 'downwards'),
    'up-left': ('up and to the left', 'diagonally up-left', 'up and left'),
    'up-right': ('up and to the right', 'diagonally up-right', 'up and right'),
    'down-left':
    ('down and to the left', 'diagonally down-left', 'down and left'),
    'down-right':
    ('down and to the right', 'diagonally down-right', 'down and right'),
}
BACKGROUND_PHRASES: Dict[str, Tuple[str, ...]] = {
    'plain': ('plain {} background', 'solid {} backdrop', '{} background',
              'flat {} background'),
    'vertical gradient':
    ('vertical gradient background', 'vertically shaded backdrop',
     'background with a vertical gradient'),
    'horizontal gradient':
    ('horizontal gradient background', 'horizontally shaded backdrop',
     'background with a horizontal gradient'),
    'stripes':
    ('striped background', 'stripy backdrop', 'background of stripes'),
    'checkerboard':
    ('checkered background', 'checkerboard background', 'chequered backdrop'),
    'noise': ('noisy background', 'speckled background', 'grainy backdrop',
              'background of random noise'),
}
# (base form, third person, participle)
VERBS = (('move', 'moves', 'moving'), ('slide', 'slides', 'sliding'),
         ('drift', 'drifts', 'drifting'), ('glide', 'glides', 'gliding'),
         ('travel', 'travels', 'travelling'), ('float', 'floats', 'floating'),
         ('shift', 'shifts', 'shifting'))
SMALL_WORDS = ('small', 'tiny', 'little')
LARGE_WORDS = ('large', 'big')
VIDEO_TEMPLATES = (
    '{obj} {verb_s} {dir}',
    '{obj} {verb_s} {dir} across {bg}',
    '{obj} {verb_s} {dir} over {bg}',
    'footage of {obj} {verb_ing} {dir}',
    'a video of {obj} {verb_ing} {dir} in front of {bg}',
    'a clip showing {obj} that {verb_s} {dir}',
    'there is {obj} {verb_ing} {dir} on {bg}',
    'on {bg}, {obj} {verb_s} {dir}',
    'the {bare} {verb_s} {dir} across the frame',
    'watch {obj} {verb} {dir}',
    'animation of {obj} {verb_ing} {dir}',
    'in this clip, {obj} {verb_s} {dir} against {bg}',
    '{obj} is {verb_ing} {dir}',
    'a simple animation: {obj} {verb_ing} {dir} over {bg}',
    'we see {obj} {verb_ing} {dir}',
)
IMAGE_TEMPLATES = (
    'a photo of {obj} on {bg}',
    'an image of {obj} against {bg}',
    '{obj} on {bg}',
    'a picture of {obj} in front of {bg}',
    'a still image of {obj} over {bg}',
    'a close-up of {obj} on {bg}',
    '{obj} sitting on {bg}',
    'an illustration of {obj} against {bg}',
    'a drawing of {obj} on {bg}',
    'simple graphic: {obj} over {bg}',
)

# Shape radius and distance travelled, as fractions of the frame side.
SCALE_RANGE = (0.09, 0.16)
SPEED_RANGE = (0.30, 0.50)
SMALL_BELOW, LARGE_ABOVE = 0.11, 0.14


@dataclass(frozen=True)
class ClipSpec:
    """Everything needed to render and describe one clip.

    Attributes:
        videoid: 10-digit numeric id, unique per clip.
        page_dir: folder of the clip under ``videos/``.
        split: ``'train'`` or ``'val'``.
        colour: key of :data:`COLOURS`.
        shape: key of :data:`SHAPE_OUTLINES`.
        direction: key of :data:`DIRECTIONS`.
        background: one of :data:`BACKGROUNDS`.
        bg_colour: key of :data:`BACKGROUND_COLOURS`.
        bg_seed: seed of the background's random details.
        scale: shape radius, fraction of the frame side.
        speed: distance travelled per axis over the whole clip, fraction of
            the frame side.
        start: shape centre ``(x, y)`` in the first frame, fractions.
        caption: the clip's caption.
    """

    videoid: str
    page_dir: str
    split: str
    colour: str
    shape: str
    direction: str
    background: str
    bg_colour: str
    bg_seed: int
    scale: float
    speed: float
    start: Point
    caption: str

    @property
    def video_path(self) -> str:
        """Path of the clip relative to the output folder."""
        return f'videos/{self.page_dir}/{self.videoid}.mp4'


@dataclass(frozen=True)
class ImageSpec:
    """Everything needed to render and describe one still image.

    Attributes:
        index: image number; the file is ``images/{index:06d}.jpg``.
        colour: key of :data:`COLOURS`.
        shape: key of :data:`SHAPE_OUTLINES`.
        background: one of :data:`BACKGROUNDS`.
        bg_colour: key of :data:`BACKGROUND_COLOURS`.
        bg_seed: seed of the background's random details.
        scale: shape radius, fraction of the image side.
        centre: shape centre ``(x, y)``, fractions.
        captions: one caption, or 2-3 paraphrases.
    """

    index: int
    colour: str
    shape: str
    background: str
    bg_colour: str
    bg_seed: int
    scale: float
    centre: Point
    captions: Tuple[str, ...]

    @property
    def image_path(self) -> str:
        """Path of the image relative to the output folder."""
        return f'images/{self.index:06d}.jpg'


# ----------------------------------------------------------------- specs


def _pair_layout(seed: int) -> Tuple[List[str], List[str]]:
    """Seeded orders of colours and shapes that fix the pair rounds."""
    rng = random.Random(f'{seed}/pairs')
    colours, shapes = list(COLOURS), list(SHAPES)
    rng.shuffle(colours)
    rng.shuffle(shapes)
    return colours, shapes


def _pair_round(seed: int, offset: int) -> List[Tuple[str, str]]:
    """Colour ``i`` of the layout with shape ``i + offset`` of the layout.

    Offset 0 gives the held-out pairs; offsets ``1 .. len(SHAPES) - 1`` give
    disjoint rounds that together make up all train pairs, each round
    covering every colour and every shape.
    """
    colours, shapes = _pair_layout(seed)
    return [(colour, shapes[(i + offset) % len(shapes)])
            for i, colour in enumerate(colours)]


def heldout_pairs(seed: int) -> List[Tuple[str, str]]:
    """Choose the colour-shape pairs reserved for the val split.

    Each colour loses exactly one shape and each shape at most
    ``ceil(len(COLOURS) / len(SHAPES))`` colours, so every colour and every
    shape still occurs in train.

    Args:
        seed: corpus seed.

    Returns:
        the held-out pairs, sorted.
    """
    return sorted(_pair_round(seed, 0))


def _train_pair_stream(seed: int,
                       rng: random.Random) -> Iterable[Tuple[str, str]]:
    """Endless train pairs; each round of ``len(COLOURS)`` covers all."""
    while True:
        rounds = list(range(1, len(SHAPES)))
        rng.shuffle(rounds)
        for offset in rounds:
            pairs = _pair_round(seed, offset)
            rng.shuffle(pairs)
            yield from pairs


def _cycle_shuffled(items: Sequence[T], rng: random.Random) -> Iterable[T]:
    """Endless passes over ``items``, each in a fresh random order."""
    while True:
        order = list(items)
        rng.shuffle(order)
        yield from order


def with_article(phrase: str) -> str:
    """Prefix ``phrase`` with ``a`` or ``an``."""
    return ('an ' if phrase[0] in 'aeiou' else 'a ') + phrase


def _size_word(scale: float, rng: random.Random) -> str:
    """An optional size adjective (with a trailing space) for ``scale``."""
    if scale < SMALL_BELOW and rng.random() < 0.7:
        return rng.choice(SMALL_WORDS) + ' '
    if scale > LARGE_ABOVE and rng.random() < 0.7:
        return rng.choice(LARGE_WORDS) + ' '
    return ''


def _background_phrase(background: str, bg_colour: str,
                       rng: random.Random) -> str:
    """A noun phrase with article describing the background."""
    phrase = rng.choice(BACKGROUND_PHRASES[background]).format(bg_colour)
    return with_article(phrase)


def _finish(caption: str, rng: random.Random) -> str:
    """Randomly write the caption as a sentence (capital, full stop)."""
    if rng.random() < 0.5:
        return caption[0].upper() + caption[1:] + '.'
    return caption


def video_caption(colour: str, shape: str, direction: str, background: str,
                  bg_colour: str, scale: float, rng: random.Random) -> str:
    """Describe a clip from a random template.

    Args:
        colour: shape colour name.
        shape: shape name.
        direction: key of :data:`DIRECTIONS`.
        background: one of :data:`BACKGROUNDS`.
        bg_colour: background colour name.
        scale: shape radius fraction, picks the size adjective.
        rng: source of the random choices.

    Returns:
        a caption naming colour, shape and direction.
    """
    bare = f'{_size_word(scale, rng)}{colour} {shape}'
    verb, verb_s, verb_ing = rng.choice(VERBS)
    caption = rng.choice(VIDEO_TEMPLATES).format(
        obj=with_article(bare),
        bare=bare,
        verb=verb,
        verb_s=verb_s,
        verb_ing=verb_ing,
        dir=rng.choice(DIRECTION_PHRASES[direction]),
        bg=_background_phrase(background, bg_colour, rng))
    return _finish(caption, rng)


def image_captions(colour: str, shape: str, background: str, bg_colour: str,
                   scale: float, count: int,
                   rng: random.Random) -> Tuple[str, ...]:
    """Describe a still image with ``count`` different templates.

    Args:
        colour: shape colour name.
        shape: shape name.
        background: one of :data:`BACKGROUNDS`.
        bg_colour: background colour name.
        scale: shape radius fraction, picks the size adjective.
        count: number of paraphrases.
        rng: source of the random choices.

    Returns:
        ``count`` captions naming colour and shape.
    """
    captions = []
    for template in rng.sample(IMAGE_TEMPLATES, count):
        bare = f'{_size_word(scale, rng)}{colour} {shape}'
        caption = template.format(
            obj=with_article(bare),
            bg=_background_phrase(background, bg_colour, rng))
        captions.append(_finish(caption, rng))
    return tuple(captions)


def _start(direction: str, scale: float, speed: float,
           rng: random.Random) -> Point:
    """A first-frame centre that keeps the whole path inside the frame."""
    margin = scale + 0.04
    start = []
    for step in DIRECTIONS[direction]:
        low, high = margin, 1 - margin
        if step > 0:
            high -= speed
        elif step < 0:
            low += speed
        start.append(round(rng.uniform(low, high), 4))
    return start[0], start[1]


def page_dir(k: int) -> str:
    """WebVid-style page folder of the ``k``-th clip (0-based)."""
    first = k // PAGE_SIZE * PAGE_SIZE + 1
    return '{:06d}_{:06d}'.format(first, first + PAGE_SIZE - 1)


def build_clip_specs(seed: int, num_videos: int) -> List[ClipSpec]:
    """Lay out all clips: train first, then val.

    Train clips cycle through the train colour-shape pairs (every colour
    and shape within the first ``len(COLOURS)`` clips), val clips through
    the held-out pairs; direction, background and the small variations are
    random.

    Args:
        seed: corpus seed.
        num_videos: clips in both splits together.

    Returns:
        the clip specs, ``videoid`` increasing.
    """
    rng = random.Random(f'{seed}/clips')
    num_val = round(num_videos * VAL_FRACTION)
    streams = {
        'train': _train_pair_stream(seed, rng),
        'val': _cycle_shuffled(heldout_pairs(seed), rng),
    }
    splits = ['train'] * (num_videos - num_val) + ['val'] * num_val
    specs = []
    for k, split in enumerate(splits):
        colour, shape = next(streams[split])
        direction = rng.choice(list(DIRECTIONS))
        background = rng.choice(BACKGROUNDS)
        bg_colour = rng.choice(list(BACKGROUND_COLOURS))
        scale = round(rng.uniform(*SCALE_RANGE), 4)
        speed = round(rng.uniform(*SPEED_RANGE), 4)
        specs.append(
            ClipSpec(
                videoid=str(FIRST_VIDEOID + k),
                page_dir=page_dir(k),
                split=split,
                colour=colour,
                shape=shape,
                direction=direction,
                background=background,
                bg_colour=bg_colour,
                bg_seed=rng.randrange(2**31),
                scale=scale,
                speed=speed,
                start=_start(direction, scale, speed, rng),
                caption=video_caption(colour, shape, direction, background,
                                      bg_colour, scale, rng)))
    return specs


def build_image_specs(seed: int, num_images: int) -> List[ImageSpec]:
    """Lay out the still images, using train colour-shape pairs only.

    Even indices get one caption, odd indices 2 or 3 paraphrases.

    Args:
        seed: corpus seed.
        num_images: number of images.

    Returns:
        the image specs in index order.
    """
    rng = random.Random(f'{seed}/images')
    pairs = _train_pair_stream(seed, rng)
    specs = []
    for index in range(num_images):
        colour, shape = next(pairs)
        background = rng.choice(BACKGROUNDS)
        bg_colour = rng.choice(list(BACKGROUND_COLOURS))
        scale = round(rng.uniform(*SCALE_RANGE), 4)
        margin = scale + 0.04
        centre = (round(rng.uniform(margin, 1 - margin),
                        4), round(rng.uniform(margin, 1 - margin), 4))
        count = 1 if index % 2 == 0 else rng.choice((2, 3))
        specs.append(
            ImageSpec(
                index=index,
                colour=colour,
                shape=shape,
                background=background,
                bg_colour=bg_colour,
                bg_seed=rng.randrange(2**31),
                scale=scale,
                centre=centre,
                captions=image_captions(colour, shape, background, bg_colour,
                                        scale, count, rng)))
    return specs


# ------------------------------------------------------------- rendering


def render_background(kind: str, bg_colour: str, seed: int,
                      size: int) -> np.ndarray:
    """Paint a square background.

    Args:
        kind: one of :data:`BACKGROUNDS`.
        bg_colour: key of :data:`BACKGROUND_COLOURS`, the main colour.
        seed: seed of the second colour, stripe/cell width and noise.
        size: side in pixels.

    Returns:
        ``(size, size, 3)`` RGB uint8 array.
    """
    rng = np.random.default_rng(seed)
    first = np.array(BACKGROUND_COLOURS[bg_colour], np.float32)
    others = [name for name in BACKGROUND_COLOURS if name != bg_colour]
    second = np.array(BACKGROUND_COLOURS[others[rng.integers(len(others))]],
                      np.float32)
    ramp = np.linspace(0., 1., size, dtype=np.float32)
    grid_y, grid_x = np.mgrid[:size, :size]
    period = max(2, int(rng.integers(4, 13)) * size // 64)
    if kind == 'plain':
        weight = np.zeros((size, size), np.float32)
    elif kind == 'vertical gradient':
        weight = np.repeat(ramp[:, None], size, axis=1)
    elif kind == 'horizontal gradient':
        weight = np.repeat(ramp[None, :], size, axis=0)
    elif kind == 'stripes':
        across = grid_x if rng.integers(2) else grid_y
        weight = (across // period % 2).astype(np.float32)
    elif kind == 'checkerboard':
        weight = ((grid_x // period + grid_y // period) % 2).astype(np.float32)
    elif kind == 'noise':
        noise = rng.integers(-30, 31, (size, size, 3))
        return np.clip(first + noise, 0, 255).astype(np.uint8)
    else:
        raise ValueError(f'unknown background {kind!r}')
    image = first + weight[..., None] * (second - first)
    return np.round(image).astype(np.uint8)


def draw_shape(canvas: np.ndarray, shape: str, colour: str, centre: Point,
               radius: float) -> None:
    """Draw a filled, anti-aliased shape in place.

    Args:
        canvas: ``(H, W, 3)`` RGB uint8 array.
        shape: key of :data:`SHAPE_OUTLINES`.
        colour: key of :data:`COLOURS`.
        centre: ``(x, y)`` in pixels (sub-pixel precision).
        radius: circumscribed radius in pixels.
    """
    shift = 4
    scale = 1 << shift
    rgb = COLOURS[colour]
    outline = SHAPE_OUTLINES[shape]
    if outline is None:
        centre_px = (round(centre[0] * scale), round(centre[1] * scale))
        cv2.circle(canvas, centre_px, round(radius * scale), rgb, -1,
                   cv2.LINE_AA, shift)
        return
    points = np.round((np.array(outline) * radius + centre) * scale)
    cv2.fillPoly(canvas, [points.astype(np.int32)], rgb, cv2.LINE_AA, shift)


def clip_centres(spec: ClipSpec, num_frames: int) -> List[Point]:
    """Shape centre per frame, as fractions of the frame side.

    The shape moves at constant speed from ``spec.start`` by ``spec.speed``
    along each axis of its direction, whatever ``num_frames`` is.
    """
    step_x, step_y = DIRECTIONS[spec.direction]
    last = max(num_frames - 1, 1)
    return [(spec.start[0] + step_x * spec.speed * t / last,
             spec.start[1] + step_y * spec.speed * t / last)
            for t in range(num_frames)]


def render_clip(spec: ClipSpec, size: int, num_frames: int) -> np.ndarray:
    """Render a clip.

    Args:
        spec: the clip.
        size: frame side in pixels.
        num_frames: number of frames.

    Returns:
        ``(num_frames, size, size, 3)`` RGB uint8 array.
    """
    background = render_background(spec.background, spec.bg_colour,
                                   spec.bg_seed, size)
    frames = np.empty((num_frames, size, size, 3), np.uint8)
    for t, (x, y) in enumerate(clip_centres(spec, num_frames)):
        frames[t] = background
        draw_shape(frames[t], spec.shape, spec.colour, (x * size, y * size),
                   spec.scale * size)
    return frames


def render_image(spec: ImageSpec, size: int) -> np.ndarray:
    """Render a still image as a ``(size, size, 3)`` RGB uint8 array."""
    image = render_background(spec.background, spec.bg_colour, spec.bg_seed,
                              size)
    draw_shape(image, spec.shape, spec.colour,
               (spec.centre[0] * size, spec.centre[1] * size),
               spec.scale * size)
    return image


def write_clip(spec: ClipSpec, out: Path, size: int, num_frames: int) -> str:
    """Render a clip and write it as MPEG-4 (``mp4v``) at :data:`FPS`.

    Returns:
        the path written, relative to ``out``.
    """
    path = out / spec.video_path
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*'mp4v'), FPS, (size, size))
    if not writer.isOpened():
        raise RuntimeError(f'OpenCV cannot write {path}')
    for frame in render_clip(spec, size, num_frames):
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return spec.video_path


def write_image(spec: ImageSpec, out: Path, size: int) -> str:
    """Render a still image and write it as JPEG.

    Returns:
        the path written, relative to ``out``.
    """
    path = out / spec.image_path
    path.parent.mkdir(parents=True, exist_ok=True)
    bgr = cv2.cvtColor(render_image(spec, size), cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), bgr, [cv2.IMWRITE_JPEG_QUALITY, 95]):
        raise RuntimeError(f'OpenCV cannot write {path}')
    return spec.image_path


# --------------------------------------------------------------- writers


def iso_duration(seconds: int) -> str:
    """Format seconds as WebVid's ISO-8601 duration, e.g. ``PT00H00M02S``."""
    hours, rest = divmod(seconds, 3600)
    return 'PT{:02d}H{:02d}M{:02d}S'.format(hours, *divmod(rest, 60))


def write_webvid_csv(specs: Sequence[ClipSpec], path: Path,
                     duration: str) -> None:
    """Write clips in the official WebVid ``results_*.csv`` form.

    Args:
        specs: the clips of one split.
        path: the CSV file.
        duration: ISO-8601 duration of every clip.
    """
    with open(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f, lineterminator='\n')
        writer.writerow(
            ['videoid', 'contentUrl', 'duration', 'page_dir', 'name'])
        for spec in specs:
            writer.writerow([
                spec.videoid,
                CONTENT_URL.format(spec.videoid), duration, spec.page_dir,
                spec.caption
            ])


def write_cc3m_json(specs: Sequence[ImageSpec], path: Path) -> None:
    """Write ALPRO's CC-3M JSON: ``[{"image", "caption"}]``.

    A single caption is written as a string, paraphrases as a list.
    """
    records = [{
        'image':
        spec.image_path,
        'caption':
        (spec.captions[0] if len(spec.captions) == 1 else list(spec.captions))
    } for spec in specs]
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(records, f, indent=1, ensure_ascii=False)
        f.write('\n')


def write_cc3m_tsv(specs: Sequence[ImageSpec], path: Path) -> None:
    """Write the original CC-3M ``caption<TAB>url`` form, no header.

    Row ``i`` is image ``i``; it carries the image's first caption.
    """
    with open(path, 'w', encoding='utf-8') as f:
        for spec in specs:
            f.write(f'{spec.captions[0]}\t{IMAGE_URL.format(spec.index)}\n')


# Downstream (fine-tuning) formats, built from the same clip specs. Each
# draws from its own seeded stream, so the pre-training outputs above stay
# byte-identical. Questions carry no question mark, as in MSRVTT-QA, which
# keeps them free of [UNK] under the caption tokenizer.
# (template, field of ClipSpec answered, answer_type)
QA_TEMPLATES = (
    ('what color is the {shape}', 'colour', 'what'),
    ('what shape is moving', 'shape', 'what'),
    ('which way does the {shape} move', 'direction', 'where'),
    ('what is behind the {shape}', 'background', 'what'),
)


def clip_name(spec: ClipSpec) -> str:
    """The clip's path stem under ``videos/``: ``{page_dir}/{videoid}``."""
    return f'{spec.page_dir}/{spec.videoid}'


def didemo_paragraph(spec: ClipSpec, seed: int) -> List[str]:
    """Describe a clip in 2-3 sentences, DiDeMo-style.

    Args:
        spec: the clip.
        seed: corpus seed.

    Returns:
        the sentences: appearance, motion and (sometimes) a closing one.
    """
    rng = random.Random(f'{seed}/didemo/{spec.videoid}')
    _, verb_s, _ = rng.choice(VERBS)
    obj = with_article(f'{spec.colour} {spec.shape}')
    sentences = [
        f'{obj} appears on '
        f'{_background_phrase(spec.background, spec.bg_colour, rng)}.',
        f'the {spec.shape} {verb_s} '
        f'{rng.choice(DIRECTION_PHRASES[spec.direction])}.',
    ]
    if rng.random() < 0.5:
        sentences.append(f'the {spec.shape} stays {spec.colour}.')
    return sentences


def qa_records(spec: ClipSpec) -> List[dict]:
    """One question per entry of :data:`QA_TEMPLATES` about a clip.

    Answers are the clip's colour, shape, direction key (e.g. ``up-left``)
    and background kind (e.g. ``stripes``); ``answer_type`` is ``what``
    except ``where`` for the direction.
    """
    return [{
        'question': template.format(shape=spec.shape),
        'answer': getattr(spec, field),
        'video_id': clip_name(spec),
        'answer_type': answer_type
    } for template, field, answer_type in QA_TEMPLATES]


def write_jsonl(records: Iterable[dict], path: Path) -> int:
    """Write one JSON object per line; return the number of lines."""
    count = 0
    with open(path, 'w', encoding='utf-8') as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + '\n')
            count += 1
    return count


def answer_vocab(answers: Sequence[str]) -> Dict[str, int]:
    """``{answer: index}``, most frequent first, ties alphabetical."""
    counts = Counter(answers)
    ranked = sorted(counts, key=lambda answer: (-counts[answer], answer))
    return {answer: i for i, answer in enumerate(ranked)}


def write_downstream(clips: Sequence[ClipSpec], annotations: Path,
                     seed: int) -> Dict[str, int]:
    """Write ALPRO's fine-tuning formats for the demo clips.

    * ``msrvtt_ret/{train,val,test}.jsonl``: ``{"caption", "clip_name"}``;
      train from the train clips, val and test both the held-out clips.
    * ``didemo_ret/{train,test}.jsonl``: ``{"caption": [sentences],
      "clip_name"}``.
    * ``demo_qa/{train,test}.jsonl`` (``{"question", "answer", "video_id",
      "answer_type"}``) and ``demo_qa/train_ans2label.json`` over all train
      answers.

    Returns:
        lines written per file, keyed by the path under ``annotations/``.
    """
    by_split = {
        'train': [spec for spec in clips if spec.split == 'train'],
        'test': [spec for spec in clips if spec.split == 'val'],
    }
    questions = {
        split: [record for spec in specs for record in qa_records(spec)]
        for split, specs in by_split.items()
    }
    counts = {}
    for folder in ('msrvtt_ret', 'didemo_ret', 'demo_qa'):
        (annotations / folder).mkdir(exist_ok=True)
    for split, specs in (('train', by_split['train']),
                         ('val', by_split['test']), ('test',
                                                     by_split['test'])):
        name = f'msrvtt_ret/{split}.jsonl'
        counts[name] = write_jsonl(({
            'caption': spec.caption,
            'clip_name': clip_name(spec)
        } for spec in specs), annotations / name)
    for split, specs in by_split.items():
        name = f'didemo_ret/{split}.jsonl'
        counts[name] = write_jsonl(({
            'caption': didemo_paragraph(spec, seed),
            'clip_name': clip_name(spec)
        } for spec in specs), annotations / name)
        name = f'demo_qa/{split}.jsonl'
        counts[name] = write_jsonl(questions[split], annotations / name)
    write_meta(
        annotations / 'demo_qa' / 'train_ans2label.json',
        answer_vocab([record['answer'] for record in questions['train']]))
    return counts


def write_meta(path: Path, meta: dict) -> None:
    """Write ``meta`` as indented JSON."""
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(meta, f, indent=2)
        f.write('\n')


def train_tokenizer(captions: Sequence[str],
                    out_dir: Path,
                    vocab_size: int,
                    extra_words: Sequence[str] = ()) -> int:
    """Train a BERT-style WordPiece tokenizer and save it for transformers.

    ``WordPieceTrainer`` breaks ties between equally frequent merges in hash
    order, which differs between processes. To save the same bytes for the
    same captions, only the deterministic part of what it learns is kept:
    the special tokens, the characters (with and without ``##``) and every
    whole word of the corpus, in a fixed order. Every corpus word is thus
    one token and unseen words fall back to characters.

    Args:
        captions: all captions of the corpus.
        out_dir: folder for ``save_pretrained``.
        vocab_size: trainer vocabulary size; must fit all corpus words.
        extra_words: words that are whole tokens even where the corpus
            lacks them (appended after the corpus words, so a corpus that
            has them all gets the same vocabulary).

    Returns:
        the size of the saved vocabulary.
    """
    from tokenizers import (Tokenizer, decoders, models, normalizers,
                            pre_tokenizers, processors, trainers)
    from transformers import BertTokenizerFast

    normalizer = normalizers.BertNormalizer(lowercase=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trained = Tokenizer(models.WordPiece(unk_token='[UNK]'))
    trained.normalizer = normalizer
    trained.pre_tokenizer = pre_tokenizer
    trained.train_from_iterator(
        captions,
        trainers.WordPieceTrainer(
            vocab_size=vocab_size,
            min_frequency=1,
            special_tokens=list(SPECIAL_TOKENS),
            show_progress=False))
    words = Counter(word for caption in captions
                    for word, _ in pre_tokenizer.pre_tokenize_str(
                        normalizer.normalize_str(caption)))
    learned = trained.get_vocab()
    missing = sorted(set(words) - set(learned))
    if missing:
        raise ValueError(f'vocab_size {vocab_size} is too small for the '
                         f'corpus words, e.g. {missing[:5]}')
    chars = sorted(
        token for token in learned if len(token.removeprefix('##')) == 1)
    tokens = (
        list(SPECIAL_TOKENS) + chars +
        sorted(set(words) - set(chars), key=lambda word: (-words[word], word)))
    tokens += sorted(set(extra_words) - set(tokens))
    tokenizer = Tokenizer(
        models.WordPiece({
            token: i
            for i, token in enumerate(tokens)
        },
                         unk_token='[UNK]'))
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizer
    tokenizer.post_processor = processors.TemplateProcessing(
        single='[CLS] $A [SEP]',
        pair='[CLS] $A [SEP] $B:1 [SEP]:1',
        special_tokens=[(t, tokens.index(t)) for t in ('[CLS]', '[SEP]')])
    tokenizer.decoder = decoders.WordPiece(prefix='##')
    BertTokenizerFast(
        tokenizer_object=tokenizer,
        do_lower_case=True,
        unk_token='[UNK]',
        sep_token='[SEP]',
        pad_token='[PAD]',
        cls_token='[CLS]',
        mask_token='[MASK]').save_pretrained(str(out_dir))
    return len(tokens)


# ------------------------------------------------------------------ main


def _run(function: Callable[..., str], items: Sequence,
         workers: int) -> List[str]:
    """Map ``function`` over ``items`` with a pool of ``workers``."""
    if workers <= 1:
        return [function(item) for item in items]
    with Pool(workers) as pool:
        return pool.map(function, items, chunksize=8)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--out', required=True, type=Path, help='output folder')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--num-videos',
        type=int,
        default=1200,
        help='clips in train and val together')
    parser.add_argument(
        '--size',
        type=int,
        default=64,
        help='side of frames and images in pixels (even)')
    parser.add_argument('--num-frames', type=int, default=16)
    parser.add_argument('--num-images', type=int, default=60)
    parser.add_argument('--vocab-size', type=int, default=1000)
    parser.add_argument('--workers', type=int, default=2)
    args = parser.parse_args(argv)
    if args.num_videos < 10:
        parser.error('--num-videos must be at least 10')
    if args.size < 16 or args.size % 2:
        parser.error('--size must be even and at least 16')
    if args.num_frames < 2:
        parser.error('--num-frames must be at least 2')
    if args.num_images < 0:
        parser.error('--num-images must not be negative')
    return args


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Generate the demo corpus under ``--out``."""
    args = parse_args(argv)
    began = time.perf_counter()
    out = args.out
    annotations = out / 'annotations'
    annotations.mkdir(parents=True, exist_ok=True)
    (out / 'images').mkdir(exist_ok=True)

    clips = build_clip_specs(args.seed, args.num_videos)
    images = build_image_specs(args.seed, args.num_images)
    _run(
        partial(
            write_clip, out=out, size=args.size, num_frames=args.num_frames),
        clips, args.workers)
    _run(partial(write_image, out=out, size=args.size), images, args.workers)

    seconds = max(1, round(args.num_frames / FPS))
    counts = {}
    for split in SPLITS:
        specs = [spec for spec in clips if spec.split == split]
        counts[split] = len(specs)
        write_webvid_csv(specs, annotations / f'results_demo_{split}.csv',
                         iso_duration(seconds))
    counts['images'] = len(images)
    write_cc3m_json(images, annotations / 'cc3m_demo.json')
    write_cc3m_tsv(images, annotations / 'cc3m_demo.tsv')
    downstream = write_downstream(clips, annotations, args.seed)
    captions = ([spec.caption for spec in clips] +
                [caption for spec in images for caption in spec.captions])
    # every direction word is one token, whatever the corpus size: the
    # demo configs' order-aware objective swaps them
    direction_words = [
        word for phrases in DIRECTION_PHRASES.values() for phrase in phrases
        for word in phrase.replace('-', ' ').split()
    ]
    vocab = train_tokenizer(captions, out / 'tokenizer', args.vocab_size,
                            direction_words)
    write_meta(
        out / 'meta.json', {
            'seed': args.seed,
            'counts': counts,
            'size': args.size,
            'num_frames': args.num_frames,
            'fps': FPS,
            'duration_s': seconds,
            'colours': {
                name: list(rgb)
                for name, rgb in COLOURS.items()
            },
            'shapes': list(SHAPES),
            'directions': list(DIRECTIONS),
            'backgrounds': list(BACKGROUNDS),
            'background_colours': {
                name: list(rgb)
                for name, rgb in BACKGROUND_COLOURS.items()
            },
            'heldout_pairs': [list(pair) for pair in heldout_pairs(args.seed)],
            'vocab_size': vocab,
        })
    print(f'wrote {counts["train"]} train + {counts["val"]} val clips, '
          f'{counts["images"]} images, a {vocab}-token tokenizer and '
          f'MSRVTT/DiDeMo retrieval + '
          f'{downstream["demo_qa/train.jsonl"]}/'
          f'{downstream["demo_qa/test.jsonl"]} QA annotations to '
          f'{out} in {time.perf_counter() - began:.1f}s')


if __name__ == '__main__':
    main()
