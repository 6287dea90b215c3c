"""Nearest-neighbour search by inner product over video embeddings.

``ExactIndex`` scores every gallery row with one matrix product in torch;
``FaissIndex`` hands the same search to FAISS (``faiss-cpu``, an optional
dependency): ``flat`` is exact too, ``ivf`` and ``hnsw`` are approximate and
trade recall for speed on large galleries. Both take L2-normalised
embeddings (inner product = cosine similarity) and return the same tensors.
"""
import math
from abc import ABC, abstractmethod
from typing import Optional, Tuple, Union

import numpy as np
import torch

FAISS_KINDS = ('flat', 'ivf', 'hnsw')
INDEX_KINDS = ('exact', 'faiss') + FAISS_KINDS


def _check_matrix(x: torch.Tensor,
                  name: str,
                  width: Optional[int] = None) -> torch.Tensor:
    """``x`` as a 2-D tensor, refusing other shapes and a width other than
    ``width``."""
    x = torch.as_tensor(x)
    if x.dim() != 2:
        raise ValueError(f'{name} must be a 2-D (rows, E) tensor, '
                         f'got shape {tuple(x.shape)}')
    if width is not None and x.shape[1] != width:
        raise ValueError(f'{name} of shape {tuple(x.shape)} do not match '
                         f'the index width E={width}')
    return x.detach()


def default_nlist(n: int) -> int:
    """IVF cells for ``n`` vectors: ``4 * sqrt(n)``, the usual rule, but
    at least 39 vectors a cell (fewer and FAISS warns that k-means lacks
    training points), and at least one cell."""
    return max(1, min(round(4 * math.sqrt(n)), n // 39))


class VectorIndex(ABC):
    """What every index does: check its input, then search or add through
    its kind's ``_search`` (called with 1 <= k <= N) and ``_add``."""

    @abstractmethod
    def __len__(self) -> int:
        """N, the gallery rows."""

    @property
    @abstractmethod
    def width(self) -> int:
        """E, the embedding width."""

    @abstractmethod
    def _search(self, queries: torch.Tensor,
                k: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """(Q, k) scores and indices, best first, on any device."""

    @abstractmethod
    def _add(self, embeddings: torch.Tensor) -> None:
        """Append checked (M, E) embeddings."""

    def add(self, embeddings: torch.Tensor) -> None:
        """Append (M, E) embeddings; they take indices N .. N + M - 1."""
        self._add(_check_matrix(embeddings, 'embeddings', self.width))

    def search(self, queries: torch.Tensor,
               k: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` best gallery rows of each query, best first.

        Args:
            queries (Tensor): (Q, E) float, L2-normalised.
            k (int): hits per query; more than N gives N.

        Returns:
            tuple[Tensor, Tensor]: scores (Q, k) float32 inner products and
            indices (Q, k) int64, on the device of ``queries``.
        """
        queries = _check_matrix(queries, 'queries', self.width)
        k = min(k, len(self))
        if k <= 0:
            return (queries.new_empty(len(queries), 0, dtype=torch.float32),
                    queries.new_empty(len(queries), 0, dtype=torch.long))
        scores, indices = self._search(queries, k)
        return (scores.to(queries.device,
                          torch.float32), indices.to(queries.device))


class ExactIndex(VectorIndex):
    """Exact top-k search with torch: one matrix product and ``topk``.

    The embeddings live as one tensor on ``device``. A search scores at most
    ``max_scores`` query-gallery pairs at once (64 MiB of float32 by
    default): the gallery is walked in chunks and the running top k merged,
    so a 1M x 256 gallery is searched without a (Q, 1M) score matrix.

    Args:
        embeddings (Tensor): (N, E) float, L2-normalised.
        device (str | torch.device): where the embeddings are kept and
            scored. Default: the device of ``embeddings``.
        dtype (torch.dtype): storage and product type, ``torch.float32`` or
            ``torch.float16`` (half the memory and, on CPU, single queries
            about twice as fast but batches slower; scores rounded to
            fp16).
        max_scores (int): the most query-gallery scores held at once.
    """

    def __init__(self,
                 embeddings: torch.Tensor,
                 *,
                 device: Union[str, torch.device, None] = None,
                 dtype: torch.dtype = torch.float32,
                 max_scores: int = 2**24):
        if dtype not in (torch.float32, torch.float16):
            raise ValueError(
                f'dtype must be torch.float32 or torch.float16, got {dtype}')
        embeddings = _check_matrix(embeddings, 'embeddings')
        self.embeddings = embeddings.to(device or embeddings.device, dtype)
        self.max_scores = max_scores

    def __len__(self) -> int:
        return self.embeddings.shape[0]

    @property
    def width(self) -> int:
        """E, the embedding width."""
        return self.embeddings.shape[1]

    def _add(self, embeddings: torch.Tensor) -> None:
        self.embeddings = torch.cat(
            [self.embeddings, embeddings.to(self.embeddings)])

    def _search(self, queries: torch.Tensor,
                k: int) -> Tuple[torch.Tensor, torch.Tensor]:
        gallery = self.embeddings
        q = queries.to(gallery)
        rows = max(1, self.max_scores // max(1, len(q)))
        best_scores = q.new_empty(len(q), 0)
        best_indices = torch.empty(
            len(q), 0, dtype=torch.long, device=gallery.device)
        for start in range(0, len(self), rows):
            scores = q @ gallery[start:start + rows].T
            scores, indices = scores.topk(min(k, scores.shape[1]), dim=1)
            scores = torch.cat([best_scores, scores], dim=1)
            indices = torch.cat([best_indices, indices + start], dim=1)
            best_scores, order = scores.topk(min(k, scores.shape[1]), dim=1)
            best_indices = indices.gather(1, order)
        return best_scores, best_indices


class FaissIndex(VectorIndex):
    """Top-k search by inner product with FAISS (``faiss-cpu``).

    Kinds:

    * ``flat``: ``IndexFlatIP``, exact, the results of ``ExactIndex``;
    * ``ivf``: ``IndexIVFFlat``: the gallery split into k-means cells, a
      query scans the vectors of its ``nprobe`` nearest cells. A query whose
      probed cells hold fewer than k vectors is searched again over every
      cell, so each query gets k hits;
    * ``hnsw``: ``IndexHNSWFlat``, a graph searched greedily.

    Args:
        embeddings (Tensor): (N, E) float, L2-normalised; ``ivf`` trains on
            them, so it needs N >= 1.
        kind (str): ``'flat'``, ``'ivf'`` or ``'hnsw'``.
        nlist (int, optional): ``ivf`` cells. Default: ``default_nlist(N)``.
        nprobe (int): cells an ``ivf`` query scans (settable later); 32
            kept recall@10 at 0.93-1.0 on clustered 100k-1M galleries at
            1-2 ms a query (docs/benchmarks.md).
        train_size (int, optional): the most embeddings ``ivf`` k-means
            trains on, drawn with ``seed``. Default: ``40 * nlist``.
        m (int): ``hnsw`` links per node.
        ef_construction (int): ``hnsw`` candidates kept while building.
        ef_search (int): ``hnsw`` candidates kept while searching (at least
            k are).
        seed (int): seeds the ``ivf`` training sample and k-means.
    """

    def __init__(self,
                 embeddings: torch.Tensor,
                 kind: str = 'flat',
                 *,
                 nlist: Optional[int] = None,
                 nprobe: int = 32,
                 train_size: Optional[int] = None,
                 m: int = 32,
                 ef_construction: int = 40,
                 ef_search: int = 64,
                 seed: int = 0):
        try:
            import faiss
        except ImportError as e:
            raise ImportError('FAISS is optional: pip install -e ".[faiss]" '
                              '(the faiss-cpu package)') from e
        if kind not in FAISS_KINDS:
            raise ValueError(
                f'kind must be one of {FAISS_KINDS}, got {kind!r}')
        vectors = self._as_numpy(_check_matrix(embeddings, 'embeddings'))
        n, width = vectors.shape
        self.kind = kind
        if kind == 'flat':
            self.index = faiss.IndexFlatIP(width)
        elif kind == 'hnsw':
            self.index = faiss.IndexHNSWFlat(width, m,
                                             faiss.METRIC_INNER_PRODUCT)
            self.index.hnsw.efConstruction = ef_construction
            self.index.hnsw.efSearch = ef_search
        else:
            if n == 0:
                raise ValueError('an ivf index trains on its embeddings: '
                                 'give at least one')
            nlist = min(nlist or default_nlist(n), n)
            # The index keeps a pointer to the quantizer; hold the Python
            # object so that it outlives the index.
            self._quantizer = faiss.IndexFlatIP(width)
            self.index = faiss.IndexIVFFlat(self._quantizer, width, nlist,
                                            faiss.METRIC_INNER_PRODUCT)
            self.index.cp.seed = seed
            train_size = min(train_size or 40 * nlist, n)
            rows = np.random.default_rng(seed).choice(
                n, train_size, replace=False)
            self.index.train(vectors[np.sort(rows)])
            self.nprobe = nprobe
        self.index.add(vectors)

    @staticmethod
    def _as_numpy(x: torch.Tensor) -> np.ndarray:
        """(N, E) float32, C-contiguous, on the host: what FAISS reads."""
        return x.to('cpu', torch.float32).contiguous().numpy()

    def __len__(self) -> int:
        return self.index.ntotal

    @property
    def width(self) -> int:
        """E, the embedding width."""
        return self.index.d

    @property
    def nprobe(self) -> int:
        """The cells an ``ivf`` query scans; settable (at most nlist)."""
        self._check_ivf()
        return self.index.nprobe

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        self._check_ivf()
        self.index.nprobe = min(value, self.index.nlist)

    def _check_ivf(self) -> None:
        if self.kind != 'ivf':
            raise ValueError(f'nprobe is an ivf setting; this index is '
                             f'{self.kind}')

    def _add(self, embeddings: torch.Tensor) -> None:
        # an ivf index files them under the cells it was trained with
        self.index.add(self._as_numpy(embeddings))

    def _search(self, queries: torch.Tensor,
                k: int) -> Tuple[torch.Tensor, torch.Tensor]:
        q = self._as_numpy(queries)
        scores, indices = self.index.search(q, k)
        short = (indices < 0).any(axis=1)
        if self.kind == 'ivf' and short.any():
            nprobe, self.index.nprobe = self.index.nprobe, self.index.nlist
            scores[short], indices[short] = self.index.search(q[short], k)
            self.index.nprobe = nprobe
        if (indices < 0).any():
            raise RuntimeError(
                f'the {self.kind} index found fewer than k={k} hits for '
                f'{int((indices < 0).any(axis=1).sum())} queries')
        return torch.from_numpy(scores), torch.from_numpy(indices)


def build_index(embeddings: torch.Tensor,
                kind: str = 'exact',
                **kwargs) -> VectorIndex:
    """An index over (N, E) L2-normalised ``embeddings``.

    Args:
        kind (str): ``'exact'`` (``ExactIndex``, torch), ``'faiss'`` (FAISS
            ``flat``, exact) or a FAISS kind: ``'flat'``, ``'ivf'``,
            ``'hnsw'``.
        **kwargs: the index's keyword arguments.
    """
    if kind not in INDEX_KINDS:
        raise ValueError(f'kind must be one of {INDEX_KINDS}, got {kind!r}')
    if kind == 'exact':
        return ExactIndex(embeddings, **kwargs)
    return FaissIndex(embeddings, 'flat' if kind == 'faiss' else kind,
                      **kwargs)
