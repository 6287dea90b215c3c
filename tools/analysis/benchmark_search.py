"""Text-to-video search: build time, query latency and recall of each index.

Usage:
  python tools/analysis/benchmark_search.py [--sizes 10000 1000000]
      [--width 256] [--data gaussian clustered] [--centres 1000]
      [--noise 1.0] [--queries 256]
      [--kinds exact flat ivf hnsw] [--nprobes 32] [--hnsw-max-size 100000]
      [--faiss-threads T] [--seed 0] [--json OUT]

For every data kind and gallery size N, draws N L2-normalised embeddings of
``--width`` (256: ALPRO's contrastive width) and ``--queries`` queries
drawn like them:

* ``gaussian``: isotropic Gaussian rows, the worst case for IVF (no
  clusters for its cells to follow);
* ``clustered``: ``--centres`` Gaussian centres, each row a centre plus
  Gaussian noise of ``--noise`` times its norm (1: cosine about 0.7 to its
  centre, 2: about 0.45), closer to real video embeddings.

Then builds each index of ``alpro.apis.vector_index`` (``exact``: torch;
``exact16``: torch, the gallery in float16; ``flat``, ``ivf``, ``hnsw``:
FAISS) and reports its build time, its query latency per query with
batches of 1 (the first 64 queries one at a time) and of 64 (every query),
and, for all but ``exact``, recall@1 (the exact top hit found first) and
recall@10 (the share of the exact top 10 among its top 10) against
``exact``. ``ivf`` is searched with each of ``--nprobes`` (one build).
``hnsw`` is skipped above ``--hnsw-max-size`` (its build is the slowest;
the table says so). Prints a markdown table; ``--json OUT`` writes the
rows and the machine.
"""
import argparse
import json
import os
import platform
import time
from typing import Callable, Dict, List, Optional

import torch

from alpro.apis.vector_index import build_index, default_nlist

SINGLE_QUERIES = 64
BATCH = 64


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--sizes', type=int, nargs='+', default=[10_000, 1_000_000])
    parser.add_argument('--width', type=int, default=256)
    parser.add_argument(
        '--data',
        nargs='+',
        default=['gaussian', 'clustered'],
        choices=['gaussian', 'clustered'])
    parser.add_argument('--centres', type=int, default=1000)
    parser.add_argument(
        '--noise',
        type=float,
        default=1.0,
        help='clustered: the norm of the noise over that of the centres')
    parser.add_argument('--queries', type=int, default=256)
    parser.add_argument(
        '--kinds',
        nargs='+',
        default=['exact', 'flat', 'ivf', 'hnsw'],
        choices=['exact', 'exact16', 'flat', 'ivf', 'hnsw'])
    parser.add_argument(
        '--nprobes',
        type=int,
        nargs='+',
        default=[32],
        help='the ivf index is searched with each (one build)')
    parser.add_argument('--hnsw-max-size', type=int, default=100_000)
    parser.add_argument(
        '--faiss-threads',
        type=int,
        help='OpenMP threads of FAISS (default: its own, one per core)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', help='also write the results here')
    return parser.parse_args(argv)


def make_embeddings(data: str, n: int, width: int, centres: int, noise: float,
                    generator: torch.Generator) -> torch.Tensor:
    """(n, width) L2-normalised rows of the ``data`` kind."""
    rows = torch.randn(n, width, generator=generator)
    if data == 'clustered':
        means = torch.randn(centres, width, generator=generator)
        which = torch.randint(centres, (n, ), generator=generator)
        rows = means[which] + noise * rows
    return torch.nn.functional.normalize(rows, dim=1)


def make_index(gallery: torch.Tensor, kind: str):
    """The index of ``kind`` over (N, E) ``gallery``; ``exact16`` is
    ``exact`` with the gallery in float16."""
    if kind == 'exact16':
        return build_index(gallery, 'exact', dtype=torch.float16)
    return build_index(gallery, kind)


def timed(fn: Callable[[], object]) -> float:
    """Seconds ``fn()`` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def latencies(index, queries: torch.Tensor) -> Dict[str, object]:
    """ms per query with batches of 1 and of ``BATCH``, and the top-10
    indices (Q, 10) of the batched search."""
    index.search(queries[:BATCH], 10)  # warm-up
    single = queries[:SINGLE_QUERIES]
    one = timed(lambda: [index.search(q[None], 10) for q in single])
    found = []
    batched = timed(lambda: found.extend(
        index.search(q, 10)[1] for q in queries.split(BATCH)))
    return dict(
        ms_batch1=1000 * one / len(single),
        ms_batch64=1000 * batched / len(queries),
        top10=torch.cat(found))


def recall(found: torch.Tensor, exact: torch.Tensor) -> Dict[str, float]:
    """recall@1 and recall@10 of (Q, 10) ``found`` against ``exact``."""
    at10 = sum(
        len(set(a.tolist()) & set(b.tolist()))
        for a, b in zip(found, exact)) / exact.numel()
    return dict(
        recall_at_1=(found[:, 0] == exact[:, 0]).float().mean().item(),
        recall_at_10=at10)


def benchmark_one(data: str, n: int, args: argparse.Namespace) -> List[dict]:
    """The rows of one data kind and gallery size."""
    g = torch.Generator().manual_seed(args.seed)
    rows = make_embeddings(data, n + args.queries, args.width, args.centres,
                           args.noise, g)
    gallery, queries = rows[:n], rows[n:]
    exact = build_index(gallery, 'exact').search(queries, 10)[1]
    results = []
    for kind in args.kinds:
        row = dict(data=data, n=n, index=kind)
        if kind == 'hnsw' and n > args.hnsw_max_size:
            row['note'] = (f'skipped: N > --hnsw-max-size '
                           f'{args.hnsw_max_size} (build too slow here)')
            results.append(row)
            print(row, flush=True)
            continue
        holder: List = []
        build_s = timed(lambda: holder.append(make_index(gallery, kind)))
        index = holder.pop()
        for nprobe in args.nprobes if kind == 'ivf' else [None]:
            if nprobe is not None:
                index.nprobe = nprobe
                row = dict(
                    row,
                    index=f'ivf nprobe={nprobe}',
                    note=f'nlist={default_nlist(n)}')
            measured = latencies(index, queries)
            found = measured.pop('top10')
            row = dict(row, build_s=build_s, **measured)
            if kind != 'exact':
                row.update(recall(found, exact))
            results.append(row)
            print(row, flush=True)
        del index
    return results


def markdown(rows: List[dict]) -> str:
    """The rows as a markdown table."""

    def cell(row: dict, key: str, fmt: str) -> str:
        value: Optional[float] = row.get(key)
        return '' if value is None else format(value, fmt)

    lines = [
        '| data | N | index | build s | ms/query, batch 1 '
        '| ms/query, batch 64 | recall@1 | recall@10 | note |',
        '|---|---|---|---|---|---|---|---|---|'
    ]
    for row in rows:
        lines.append(f'| {row["data"]} | {row["n"]:,} | {row["index"]} '
                     f'| {cell(row, "build_s", ".2f")} '
                     f'| {cell(row, "ms_batch1", ".3f")} '
                     f'| {cell(row, "ms_batch64", ".3f")} '
                     f'| {cell(row, "recall_at_1", ".3f")} '
                     f'| {cell(row, "recall_at_10", ".3f")} '
                     f'| {row.get("note", "")} |')
    return '\n'.join(lines)


def machine() -> Dict[str, object]:
    """What the figures were measured on."""
    import faiss
    return dict(
        cpus=os.cpu_count(),
        processor=platform.processor() or platform.machine(),
        torch=torch.__version__,
        torch_threads=torch.get_num_threads(),
        faiss=faiss.__version__,
        faiss_threads=faiss.omp_get_max_threads())


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.faiss_threads:
        import faiss
        faiss.omp_set_num_threads(args.faiss_threads)
    rows = [
        row for data in args.data for n in args.sizes
        for row in benchmark_one(data, n, args)
    ]
    print(markdown(rows))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(machine=machine(), rows=rows), f, indent=2)


if __name__ == '__main__':
    main()
