"""Re-encode a video in memory with PyAV (H.264, yuv420p) to a training
resolution and frame rate; a helper of ``tools/data/pack_shards.py``.

PyAV (``pip install av``, or the ``shards`` extra of alpro) is imported only
when a video is re-encoded.
"""
import argparse
import io
import os.path as osp
from dataclasses import dataclass
from fractions import Fraction
from typing import Optional, Tuple

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.webp')
PRESETS = ('ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium',
           'slow', 'slower', 'veryslow')
TUNES = ('', 'fastdecode', 'film', 'animation', 'grain', 'stillimage')
# (the bytes, their extension, the source's duration in s or None)
Media = Tuple[bytes, str, Optional[float]]
INSTALL_HINT = ('re-encoding needs PyAV: pip install av '
                '(or pip install -e ".[shards]")')


class ReencodeError(Exception):
    """A video PyAV cannot re-encode; ``reason`` is short and the same for
    every video that fails the same way, so that skips count by it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ReencodeOptions:
    """What a video is re-encoded to.

    Args:
        size: the short side in pixels (a smaller video is not enlarged);
            None keeps it.
        max_size: the long side's bound in pixels; None for no bound.
        fps: frames per second (a slower video keeps its rate: frames are
            dropped, never repeated); None keeps the source rate.
        crf: libx264's constant rate factor (0-51, lower is better).
        preset: libx264's speed preset.
        tune: libx264's tuning; ``'fastdecode'`` (no CABAC, no deblocking)
            decodes about twice as fast for about 10% more bytes; None for
            none.
    """

    size: Optional[int] = 224
    max_size: Optional[int] = None
    fps: Optional[float] = 8.
    crf: int = 23
    preset: str = 'fast'
    tune: Optional[str] = 'fastdecode'

    def x264(self) -> dict:
        """The encoder's private options."""
        options = dict(crf=str(self.crf), preset=self.preset)
        if self.tune:
            options['tune'] = self.tune
        return options


def add_reencode_args(parser: argparse.ArgumentParser) -> None:
    """The ``--reencode*`` options of ``pack_shards.py``."""
    enc = parser.add_argument_group(
        're-encoding (PyAV: pip install av); images are packed unchanged')
    enc.add_argument(
        '--reencode',
        action='store_true',
        help='re-encode every video to H.264 (libx264, yuv420p) in memory, '
        'at the size and frame rate below; a video PyAV cannot decode is '
        'left out; sums the durations')
    default = ReencodeOptions()
    enc.add_argument(
        '--reencode-size',
        type=int,
        default=default.size,
        help='short side in pixels (never enlarged; 0 keeps it)')
    enc.add_argument(
        '--reencode-max-size',
        type=int,
        default=default.max_size,
        help='bound on the long side in pixels')
    enc.add_argument(
        '--reencode-fps',
        type=float,
        default=default.fps,
        help='frames per second (frames dropped, never repeated; 0 keeps '
        "the source's rate)")
    enc.add_argument(
        '--reencode-crf',
        type=int,
        default=default.crf,
        help="libx264's constant rate factor (lower: better, larger)")
    enc.add_argument(
        '--reencode-preset',
        default=default.preset,
        choices=PRESETS,
        help="libx264's preset (ultrafast ... veryslow)")
    enc.add_argument(
        '--reencode-tune',
        default=default.tune,
        choices=TUNES,
        help="libx264's tuning ('' for none); fastdecode: faster decoding, "
        'a few more bytes')


def reencode_options(args: argparse.Namespace) -> Optional[ReencodeOptions]:
    """What ``--reencode`` asks for; None without it."""
    if not args.reencode:
        return None
    if not 0 <= args.reencode_crf <= 51:
        raise SystemExit(f'--reencode-crf must be in 0..51, got '
                         f'{args.reencode_crf}')
    return ReencodeOptions(
        size=args.reencode_size or None,
        max_size=args.reencode_max_size or None,
        fps=args.reencode_fps or None,
        crf=args.reencode_crf,
        preset=args.reencode_preset,
        tune=args.reencode_tune or None)


def require_av() -> None:
    """Raises ``SystemExit`` naming ``pip install av`` when PyAV is
    missing."""
    try:
        import av  # noqa: F401
    except ImportError as error:
        raise SystemExit(f'{INSTALL_HINT} ({error})') from None


def output_size(width: int, height: int,
                options: ReencodeOptions) -> Tuple[int, int]:
    """``(width, height)`` scaled to ``options`` with the aspect ratio
    kept, never enlarged, each rounded to an even number (yuv420p)."""
    scale = 1.
    if options.size:
        scale = min(scale, options.size / min(width, height))
    if options.max_size:
        scale = min(scale, options.max_size / max(width, height))

    def even(side: int) -> int:
        return max(2, int(round(side * scale / 2)) * 2)

    return even(width), even(height)


def _duration(container, stream) -> Optional[float]:
    """The duration in seconds the stream (else the container) states."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1e6  # in av.time_base units
    return None


class _Encoder:
    """An MP4 in memory, opened at the first frame (which gives the
    size)."""

    def __init__(self, options: ReencodeOptions, rate: Fraction) -> None:
        self.options, self.rate = options, rate
        self.buffer = io.BytesIO()
        self.container = self.stream = None
        self.count = 0
        # its own scaler, one thread: PyAV's shared one keeps swscale's
        # slice threads, which a forked worker (pack_shards.py --workers)
        # inherits without the threads and waits on forever
        self.reformatter = None

    def add(self, frame) -> None:
        import av
        try:
            self._add(frame)
        except av.FFmpegError as error:
            raise ReencodeError(
                f'PyAV cannot encode ({type(error).__name__})') from None

    def _add(self, frame) -> None:
        import av
        if self.stream is None:
            width, height = output_size(frame.width, frame.height,
                                        self.options)
            self.container = av.open(self.buffer, mode='w', format='mp4')
            self.stream = self.container.add_stream(
                'libx264', rate=self.rate, options=self.options.x264())
            self.stream.width, self.stream.height = width, height
            self.stream.pix_fmt = 'yuv420p'
            self.stream.codec_context.time_base = 1 / self.rate
            self.stream.codec_context.thread_count = 1
        if self.reformatter is None:
            self.reformatter = av.video.reformatter.VideoReformatter()
        out = self.reformatter.reformat(
            frame,
            self.stream.width,
            self.stream.height,
            'yuv420p',
            interpolation='AREA',
            threads=1)
        out.pts, out.time_base = self.count, 1 / self.rate
        self.container.mux(self.stream.encode(out))
        self.count += 1

    def close(self) -> bytes:
        import av
        if self.container is None:
            raise ReencodeError('no frames')
        try:
            self.container.mux(self.stream.encode(None))
            self.container.close()
        except av.FFmpegError as error:
            raise ReencodeError(
                f'PyAV cannot encode ({type(error).__name__})') from None
        return self.buffer.getvalue()


def reencode(path: str, options: ReencodeOptions) -> Tuple[bytes, float]:
    """Re-encode the first video stream of ``path`` into an MP4 held in
    memory, frame by frame (no temporary file, no clip held whole).

    Video only (the audio is dropped; rotation metadata is not applied);
    H.264 by libx264 with ``options``' CRF, preset and tune on one thread
    (so that the bytes depend only on the input and the options), scaled on
    one thread, yuv420p, even sides. Output frame ``k`` shows
    the last source frame that started by ``k / fps`` after the first.

    Returns:
        ``(the MP4's bytes, the source's duration in s)`` (the duration the
        stream or container states, else frames / rate).

    Raises:
        ReencodeError: PyAV cannot open or decode it, or it has no frames.
    """
    import av
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise ReencodeError('no video stream')
            stream = container.streams.video[0]
            stream.thread_type = 'AUTO'
            rate = float(stream.average_rate or stream.guessed_rate or 0)
            duration = _duration(container, stream)
            fps = options.fps
            if not fps or (rate and fps >= rate):
                fps = None  # every frame, at the source's rate
            encoder = _Encoder(
                options,
                Fraction(fps or rate or 25).limit_denominator(1001))
            start = last = held = None
            decoded = 0
            for frame in container.decode(stream):
                decoded += 1
                if fps is None:
                    encoder.add(frame)
                    continue
                time = frame.time if frame.time is not None else (
                    (decoded - 1) / (rate or fps))
                start = time if start is None else start
                # emit the held frame for each output time before this one
                while held is not None and (time > start +
                                            encoder.count / fps + 1e-6):
                    encoder.add(held)
                held, last = frame, time
            if held is not None:
                span = last - start + 1. / (rate or fps)
                while encoder.count < max(1, round(span * fps)):
                    encoder.add(held)
            data = encoder.close()
    except av.FFmpegError as error:
        raise ReencodeError(
            f'PyAV cannot decode ({type(error).__name__})') from None
    if duration is None:
        duration = decoded / (rate or 1.)
    return data, duration


def media(path: str, options: Optional[ReencodeOptions]) -> Media:
    """``(bytes, extension, duration or None)`` of the media at ``path``:
    a video re-encoded with ``options``, else (an image, or ``options``
    None) the file's bytes and no duration.

    Raises:
        ReencodeError: the video does not re-encode.
    """
    ext = osp.splitext(path)[1].lower()
    if options is None or ext in IMAGE_EXTS:
        with open(path, 'rb') as f:
            return f.read(), ext.lstrip('.') or 'mp4', None
    data, duration = reencode(path, options)
    return data, 'mp4', duration
