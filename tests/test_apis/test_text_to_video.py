"""TextToVideoRetrievalInferencer: the gallery cache is reused and updated
incrementally, bad files are skipped and listed, and the scores are the
evaluation's for the same pairs (VTC, and VTM re-scoring)."""
import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from alpro.apis import TextToVideoRetrievalInferencer, init_model
from alpro.registry import DATASETS
from alpro.utils import register_all_modules
from .conftest import RETRIEVAL_CONFIG as CONFIG


@pytest.fixture
def model(retrieval_model):
    return retrieval_model


def _gallery(demo_corpus, folder, count):
    videos = sorted((demo_corpus / 'data/demo/videos').rglob('*.mp4'))
    folder.mkdir()
    for video in videos[:count]:
        shutil.copy(video, folder / video.name)
    return videos


def _build(model, gallery, cache):
    return TextToVideoRetrievalInferencer(
        model,
        gallery,
        cache,
        batch_size=2,
        num_workers=0,
        show_progress=False,
        checkpoint='m.pth')


def test_cache_is_reused_and_updated_incrementally(model, demo_corpus,
                                                   tmp_path):
    folder = tmp_path / 'gallery'
    videos = _gallery(demo_corpus, folder, 4)
    (folder / 'sub').mkdir()
    shutil.copy(videos[4], folder / 'sub/nested.MP4')
    cache = tmp_path / 'cache/gallery'
    first = _build(model, folder, cache)
    assert first.stats == dict(embedded=5, reused=0, dropped=0, skipped=0)
    assert len(first.paths) == 5 and str(
        folder / 'sub/nested.MP4') in (first.paths)
    records = json.loads((tmp_path / 'cache/gallery.json').read_text())
    assert records['meta']['checkpoint'] == str(demo_corpus / 'm.pth')
    assert records['meta']['config'] == str(CONFIG)
    assert [e['path'] for e in records['entries']] == first.paths

    # nothing touched: nothing recomputed, the same embeddings
    again = _build(model, folder, str(cache) + '.json')
    assert again.stats == dict(embedded=0, reused=5, dropped=0, skipped=0)
    assert again.paths == first.paths
    assert torch.equal(again.embeddings, first.embeddings)

    # one new file, one deleted, one rewritten (size and mtime change)
    shutil.copy(videos[5], folder / 'new.mp4')
    os.remove(folder / videos[0].name)
    shutil.copy(videos[6], folder / videos[1].name)
    third = _build(model, folder, cache)
    assert third.stats == dict(embedded=2, reused=3, dropped=1, skipped=0)
    assert str(folder / videos[0].name) not in third.paths
    row = {p: i for i, p in enumerate(third.paths)}
    # an unchanged file keeps its row; new and rewritten ones are embedded
    # as a fresh build embeds them
    fresh = TextToVideoRetrievalInferencer(
        model, folder, num_workers=0, show_progress=False)
    assert fresh.paths == third.paths
    torch.testing.assert_close(third.embeddings, fresh.embeddings)
    old = {p: i for i, p in enumerate(first.paths)}
    kept = str(folder / videos[2].name)
    assert torch.equal(third.embeddings[row[kept]],
                       first.embeddings[old[kept]])
    rewritten = str(folder / videos[1].name)
    assert not torch.equal(third.embeddings[row[rewritten]],
                           first.embeddings[old[rewritten]])

    # the cache alone (no gallery) serves queries
    served = TextToVideoRetrievalInferencer(model, cache=cache)
    assert served.paths == third.paths
    hits = served('a red circle moves left', top_k=3)
    assert [h['rank'] for h in hits[0]] == [1, 2, 3]
    assert all(h['score'] == h['vtc'] for h in hits[0])


def test_cache_of_another_model_is_rebuilt_or_refused(model, demo_corpus,
                                                      tmp_path):
    folder = tmp_path / 'gallery'
    _gallery(demo_corpus, folder, 2)
    cache = tmp_path / 'c'
    _build(model, folder, cache)
    other = init_model(CONFIG)  # random weights: another fingerprint
    with pytest.raises(ValueError, match='another model'):
        TextToVideoRetrievalInferencer(other, cache=cache)
    rebuilt = _build(other, folder, cache)
    assert rebuilt.stats['embedded'] == 2


def test_bad_videos_are_skipped_and_listed(model, demo_corpus, tmp_path,
                                           bad_videos):
    folder = tmp_path / 'gallery'
    _gallery(demo_corpus, folder, 3)
    for kind in ('empty', 'truncated', 'garbage'):
        shutil.copy(bad_videos[kind], folder / f'{kind}.mp4')
    cache = tmp_path / 'c'
    search = _build(model, folder, cache)
    assert sorted(Path(p).name for p, _ in search.skipped) == [
        'empty.mp4', 'garbage.mp4', 'truncated.mp4'
    ]
    assert dict(search.skipped)[str(folder / 'empty.mp4')] == 'empty file'
    assert search.stats == dict(embedded=3, reused=0, dropped=0, skipped=3)
    assert len(search('a blue square', top_k=10)[0]) == 3
    # an unchanged bad file is not tried again; still listed
    again = _build(model, folder, cache)
    assert again.stats == dict(embedded=0, reused=3, dropped=0, skipped=3)
    assert again.skipped == search.skipped
    # a listed file that does not exist is skipped too
    listed = TextToVideoRetrievalInferencer(
        model,
        [search.paths[0], str(tmp_path / 'nothing.mp4')],
        num_workers=0,
        show_progress=False)
    assert listed.skipped == [(str(tmp_path / 'nothing.mp4'), 'file not found')
                              ]


def _evaluation(demo_corpus, tmp_path):
    """The tiny config's RetrievalTestLoop: each caption's row of scores and
    the VTC similarities ``model.rank`` started from, the captions in
    dataset order and the videos' paths in the rows' column order."""
    register_all_modules()
    cfg = Config.fromfile(CONFIG)
    cfg.load_from = str(tmp_path / 'm.pth')
    cfg.work_dir = str(tmp_path / 'eval')
    cfg.experiment_name = f'api_scores_{tmp_path.name}'
    runner = Runner.from_cfg(cfg)
    rows, sims = [], []
    rank = runner.model.rank

    def spy(video_tokens, video_feat, text_tokens, text_mask, text_feat):
        sims.append(text_feat @ video_feat.t())
        return rank(video_tokens, video_feat, text_tokens, text_mask,
                    text_feat)

    runner.model.rank = spy
    metric = runner.test_loop.evaluator.metrics[0]
    real = metric.process_kept

    def process_kept(data_batch, data_samples):
        rows.extend(s['pred_score'] for s in data_samples)
        return real(data_batch, data_samples)

    metric.process_kept = process_kept
    runner.test()
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    paths = {i['video_id']: os.path.abspath(i['video_path']) for i in infos}
    return (torch.stack(rows), sims[0], [i['text'] for i in infos],
            [paths[v] for v in sorted(paths)], cfg.test_dataloader.dataset)


def test_scores_equal_the_evaluation(model, demo_corpus, tmp_path):
    scores, sims, captions, columns, dataset = _evaluation(
        demo_corpus, tmp_path)
    # the gallery is the evaluation's annotation file
    search = TextToVideoRetrievalInferencer(
        model, dataset.ann_file, num_workers=0, show_progress=False)
    assert sorted(search.paths) == sorted(columns)
    column = {p: i for i, p in enumerate(columns)}
    count = len(columns)

    def matrix(results, key):
        out = torch.full((len(captions), count), float('nan'))
        for q, hits in enumerate(results):
            for hit in hits:
                out[q, column[hit['path']]] = hit[key]
        return out

    vtc = search(captions, top_k=count)
    torch.testing.assert_close(matrix(vtc, 'score'), sims)
    # every pair re-scored with VTM: the evaluation's rerank_k='all'
    vtm = search(captions, top_k=count, rerank_k=count)
    torch.testing.assert_close(matrix(vtm, 'score'), scores)
    torch.testing.assert_close(matrix(vtm, 'vtc'), sims)
    # the top 2 re-scored: the same scores for those pairs, ahead of the rest
    top2 = search(captions, top_k=count, rerank_k=2)
    for q, hits in enumerate(top2):
        assert [h['rank'] for h in hits] == list(range(1, count + 1))
        for hit in hits[:2]:
            assert hit['score'] == pytest.approx(
                scores[q, column[hit['path']]].item(), abs=1e-5)
        assert {h['path'] for h in hits[:2]} == {h['path'] for h in vtc[q][:2]}
        assert [h['path'] for h in hits[2:]] == [h['path'] for h in vtc[q][2:]]


def test_faiss_flat_index_gives_the_exact_hits(model, demo_corpus, tmp_path):
    pytest.importorskip('faiss')
    folder = tmp_path / 'gallery'
    _gallery(demo_corpus, folder, 5)
    cache = tmp_path / 'c'
    exact = _build(model, folder, cache)
    flat = TextToVideoRetrievalInferencer(model, cache=cache, index='faiss')
    queries = ['a red circle moves left', 'a blue square moves up']
    for ours, theirs in zip(exact(queries, top_k=5), flat(queries, top_k=5)):
        assert [h['path'] for h in ours] == [h['path'] for h in theirs]
        assert [h['score']
                for h in ours] == pytest.approx([h['score'] for h in theirs],
                                                abs=1e-5)
    with pytest.raises(ValueError, match='index must be one of'):
        TextToVideoRetrievalInferencer(model, cache=cache, index='annoy')
