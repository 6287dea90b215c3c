"""Search videos by text with a trained retrieval model.

Embed a folder of videos once into a cache (a later run embeds only new or
changed videos and drops deleted ones), then query the cache::

    python tools/search.py index CONFIG CHECKPOINT VIDEO_DIR --cache FILE
    python tools/search.py query FILE "a red circle moves left" --top-k 5 \
        [--rerank-k 32]

``query`` rebuilds the model from the config and checkpoint the cache
records. Bad input (a missing file, an empty query, a cache of another
model) exits with status 2 and a one-line reason on stderr.
"""
import argparse
import json
import os.path as osp
from typing import List, Optional, Sequence, Tuple

from alpro.apis import TextToVideoRetrievalInferencer, init_model
from alpro.apis.errors import INPUT_OR_EXTRA_ERRORS
from alpro.apis.gallery_cache import cache_files
from alpro.apis.vector_index import INDEX_KINDS
from alpro.utils.cli import (add_inference_arguments, amp_available,
                             reported_errors)

SCORES = ('vtm_prob', 'vtm_logit+vtc')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    # the options of both commands
    common = argparse.ArgumentParser(add_help=False)
    add_inference_arguments(common)
    parser = argparse.ArgumentParser(
        description='Search videos by text with a trained retrieval model')
    commands = parser.add_subparsers(dest='command', required=True)

    index = commands.add_parser(
        'index',
        parents=[common],
        help='embed the videos of a folder into a cache')
    index.add_argument('config', help='the retrieval model config')
    index.add_argument('checkpoint', help='its trained checkpoint')
    index.add_argument(
        'video_dir',
        help='a folder (searched recursively), or an annotation file a '
        'retrieval dataset reads')
    index.add_argument(
        '--cache',
        required=True,
        help='the cache to write or update (NAME.safetensors and NAME.json)')

    query = commands.add_parser(
        'query', parents=[common], help='search a cache by text')
    query.add_argument('cache', help='a cache written by the index command')
    query.add_argument('text', help='what to search for')
    query.add_argument('--top-k', type=int, default=5)
    query.add_argument(
        '--rerank-k',
        type=int,
        help='re-score the top K by VTC with VTM (default: VTC order)')
    query.add_argument(
        '--score',
        choices=SCORES,
        help="the re-ranking score (default: the model's)")
    query.add_argument(
        '--index',
        choices=INDEX_KINDS,
        default='exact',
        help="exact: one matrix product (torch); faiss: FAISS's exact flat "
        'index; flat, ivf, hnsw: a FAISS index of that kind (pip install -e '
        '".[faiss]")')
    return parser.parse_args(argv)


def require_file(path: str, kind: str) -> None:
    if not osp.exists(path):
        raise FileNotFoundError(f'{kind} {path} not found')


def index(args: argparse.Namespace) -> TextToVideoRetrievalInferencer:
    """Embed ``args.video_dir`` into ``args.cache`` and say what was
    done."""
    for path, kind in ((args.config, 'config'),
                       (args.checkpoint, 'checkpoint'), (args.video_dir,
                                                         'video folder')):
        require_file(path, kind)
    amp = args.amp and amp_available()
    model = init_model(args.config, args.checkpoint, args.device)
    print(f'model: {args.config} + {args.checkpoint} on {args.device}')
    inferencer = TextToVideoRetrievalInferencer(
        model,
        args.video_dir,
        args.cache,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        amp=amp,
        checkpoint=args.checkpoint)
    stats = inferencer.stats
    print(f'gallery {args.video_dir}: {len(inferencer.paths)} videos '
          f"(embedded {stats['embedded']}, reused {stats['reused']}, "
          f"dropped {stats['dropped']}, skipped {stats['skipped']})")
    for path, reason in inferencer.skipped:
        print(f'  skipped {path}: {reason}')
    print(f'cache: {args.cache}')
    return inferencer


def recorded_model(cache: str) -> Tuple[str, str]:
    """The config and checkpoint files a cache was built with (its JSON
    ``meta``)."""
    records = cache_files(cache)[1]
    if not records.is_file():
        raise FileNotFoundError(
            f'no cache at {cache} ({records} not found): build it with '
            'tools/search.py index CONFIG CHECKPOINT VIDEO_DIR --cache '
            f'{cache}')
    meta = json.loads(records.read_text()).get('meta', {})
    if not meta.get('config') or not meta.get('checkpoint'):
        raise ValueError(f'{records} does not record the config and '
                         'checkpoint of its model: build it with '
                         'tools/search.py index')
    return meta['config'], meta['checkpoint']


def format_hits(hits: List[dict]) -> str:
    """A table of hits: rank, score, the clip's time range, path."""
    lines = [f"{'rank':>4}  {'score':>8}  {'clip (s)':>11}  path"]
    for hit in hits:
        start, end = hit['clip']
        lines.append(f"{hit['rank']:>4}  {hit['score']:>8.4f}  "
                     f"{start:>5.1f}-{end:<5.1f}  {hit['path']}")
    return '\n'.join(lines)


def query(args: argparse.Namespace) -> List[dict]:
    """Search ``args.cache`` for ``args.text`` and print the top hits."""
    if not args.text.strip():
        raise ValueError('the query is empty: give the text to search for')
    if args.top_k < 1 or (args.rerank_k is not None and args.rerank_k < 1):
        raise ValueError('--top-k and --rerank-k must be at least 1')
    config, checkpoint = recorded_model(args.cache)
    amp = args.amp and amp_available()
    model = init_model(config, checkpoint, args.device)
    inferencer = TextToVideoRetrievalInferencer(
        model,
        cache=args.cache,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        amp=amp,
        index=args.index)
    hits = inferencer(
        args.text, top_k=args.top_k, rerank_k=args.rerank_k,
        score=args.score)[0]
    order = 'VTC' if args.rerank_k is None else (
        f'VTC, the top {args.rerank_k} re-ranked by VTM')
    print(f'query "{args.text}": {len(inferencer.paths)} videos in '
          f'{args.cache} ({args.index} search), ranked by {order}')
    print(format_hits(hits))
    return hits


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    with reported_errors(
            'search.py', args.debug, errors=INPUT_OR_EXTRA_ERRORS,
            one_line=True):
        if args.command == 'index':
            index(args)
        else:
            query(args)


if __name__ == '__main__':
    main()
