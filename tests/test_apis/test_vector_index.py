"""ExactIndex and FaissIndex against a brute-force reference."""
import sys

import pytest
import torch

from alpro.apis.vector_index import (ExactIndex, FaissIndex, build_index,
                                     default_nlist)


def unit_rows(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x, dim=1)


def random_embeddings(n: int, width: int = 32, seed: int = 0):
    """(n, width) Gaussian rows, L2-normalised."""
    g = torch.Generator().manual_seed(seed)
    return unit_rows(torch.randn(n, width, generator=g))


def clustered_embeddings(n: int,
                         centres: int = 40,
                         width: int = 32,
                         noise: float = 0.3,
                         seed: int = 0):
    """(n, width) rows drawn around ``centres`` Gaussian centres, L2-
    normalised: closer to real video embeddings than uniform noise."""
    g = torch.Generator().manual_seed(seed)
    means = unit_rows(torch.randn(centres, width, generator=g))
    which = torch.randint(centres, (n, ), generator=g)
    rows = means[which] + noise / width**0.5 * torch.randn(
        n, width, generator=g)
    return unit_rows(rows)


def brute_force(queries: torch.Tensor, gallery: torch.Tensor, k: int):
    return (queries @ gallery.T).topk(k, dim=1)


@pytest.mark.parametrize('max_scores', [2**24, 64])
def test_exact_equals_brute_force(max_scores):
    gallery, queries = random_embeddings(500), random_embeddings(7, seed=1)
    index = ExactIndex(gallery, max_scores=max_scores)
    scores, indices = index.search(queries, 10)
    ref = brute_force(queries, gallery, 10)
    assert scores.dtype == torch.float32 and indices.dtype == torch.int64
    assert scores.shape == indices.shape == (7, 10)
    torch.testing.assert_close(scores, ref.values)
    assert torch.equal(indices, ref.indices)


def test_exact_add_numbers_rows_after_the_gallery():
    gallery, queries = random_embeddings(60), random_embeddings(5, seed=1)
    index = ExactIndex(gallery[:40])
    index.add(gallery[40:])
    assert len(index) == 60
    assert torch.equal(
        index.search(queries, 8)[1],
        brute_force(queries, gallery, 8).indices)


def test_exact_float16_keeps_half_the_bytes_and_the_order():
    gallery, queries = random_embeddings(300), random_embeddings(4, seed=1)
    index = ExactIndex(gallery, dtype=torch.float16)
    assert index.embeddings.dtype == torch.float16
    scores, indices = index.search(queries, 1)
    assert scores.dtype == torch.float32
    assert torch.equal(indices, brute_force(queries, gallery, 1).indices)
    with pytest.raises(ValueError, match='torch.float32 or torch.float16'):
        ExactIndex(gallery, dtype=torch.float64)


@pytest.mark.parametrize('kind', ['exact', 'flat'])
def test_k_above_the_gallery_size_gives_every_row(kind):
    if kind != 'exact':
        pytest.importorskip('faiss')
    gallery, queries = random_embeddings(6), random_embeddings(3, seed=1)
    scores, indices = build_index(gallery, kind).search(queries, 50)
    assert scores.shape == indices.shape == (3, 6)
    assert torch.equal(indices, brute_force(queries, gallery, 6).indices)


@pytest.mark.parametrize('kind', ['exact', 'flat', 'ivf', 'hnsw'])
def test_bad_shapes_are_refused_naming_them(kind):
    if kind != 'exact':
        pytest.importorskip('faiss')
    index = build_index(random_embeddings(100), kind)
    with pytest.raises(ValueError, match=r'\(2, 31\).*E=32'):
        index.search(torch.zeros(2, 31), 1)
    with pytest.raises(ValueError, match=r'\(2, 31\).*E=32'):
        index.add(torch.zeros(2, 31))
    with pytest.raises(ValueError, match=r'2-D.*\(32,\)'):
        index.search(torch.zeros(32), 1)
    with pytest.raises(ValueError, match=r'2-D.*\(2, 3, 32\)'):
        build_index(torch.zeros(2, 3, 32), kind)


def test_faiss_flat_equals_exact():
    pytest.importorskip('faiss')
    gallery, queries = random_embeddings(400), random_embeddings(30, seed=1)
    exact = ExactIndex(gallery).search(queries, 10)
    index = build_index(gallery, 'faiss')
    assert isinstance(index, FaissIndex) and index.kind == 'flat'
    scores, indices = index.search(queries, 10)
    assert scores.dtype == torch.float32 and indices.dtype == torch.int64
    torch.testing.assert_close(scores, exact[0])
    assert torch.equal(indices, exact[1])


@pytest.mark.parametrize('kind', ['ivf', 'hnsw'])
def test_approximate_kinds_recall_the_exact_top10(kind):
    pytest.importorskip('faiss')
    rows = clustered_embeddings(4100)
    gallery, queries = rows[:4000], rows[4000:]
    exact = ExactIndex(gallery).search(queries, 10)[1]
    found = build_index(gallery, kind).search(queries, 10)[1]
    recall = sum(
        len(set(a.tolist()) & set(b.tolist()))
        for a, b in zip(found, exact)) / exact.numel()
    assert recall > 0.9


def test_ivf_gives_k_hits_when_the_probed_cells_hold_fewer():
    pytest.importorskip('faiss')
    gallery, queries = random_embeddings(2000), random_embeddings(5, seed=1)
    index = FaissIndex(gallery, 'ivf', nprobe=1)
    assert index.index.nlist == default_nlist(2000) == 51
    scores, indices = index.search(queries, 300)
    assert (indices >= 0).all()
    assert all(len(set(row.tolist())) == 300 for row in indices)
    assert (scores[:, :-1] >= scores[:, 1:]).all()
    index.nprobe = 10**6
    assert index.nprobe == 51
    with pytest.raises(ValueError, match='ivf setting; this index is flat'):
        FaissIndex(gallery).nprobe = 4


def test_missing_faiss_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, 'faiss', None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[faiss\]"'):
        build_index(random_embeddings(10), 'ivf')


def test_unknown_kind_is_refused_listing_the_kinds():
    with pytest.raises(ValueError, match="'exact', 'faiss', 'flat'"):
        build_index(random_embeddings(10), 'annoy')
