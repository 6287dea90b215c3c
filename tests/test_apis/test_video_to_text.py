"""VideoToTextRetrievalInferencer: captions from a file (blank lines
refused), scores equal to the evaluation's for the same pairs."""
import pytest
import torch

from alpro.apis import VideoToTextRetrievalInferencer
from .test_text_to_video import _evaluation


def test_captions_file_and_blank_lines(retrieval_model, tmp_path):
    (tmp_path / 'caps.txt').write_text('a red circle\n\nmoves left\n \n')
    with pytest.raises(
            ValueError, match=r'caps.txt: blank caption at '
            r'line\(s\) 2, 4'):
        VideoToTextRetrievalInferencer(retrieval_model, tmp_path / 'caps.txt')
    (tmp_path / 'caps.txt').write_text('a red circle\nmoves left\n')
    captions = VideoToTextRetrievalInferencer(retrieval_model,
                                              tmp_path / 'caps.txt')
    assert captions.captions == ['a red circle', 'moves left']
    with pytest.raises(FileNotFoundError, match='nothing.txt'):
        VideoToTextRetrievalInferencer(retrieval_model,
                                       tmp_path / 'nothing.txt')


def test_scores_equal_the_evaluation(retrieval_model, demo_corpus, tmp_path):
    scores, sims, captions, videos, _ = _evaluation(demo_corpus, tmp_path)
    search = VideoToTextRetrievalInferencer(
        retrieval_model, captions, batch_size=3)
    row = {c: i for i, c in enumerate(captions)}
    assert len(row) == len(captions), 'the demo captions are distinct'
    count = len(captions)

    def matrix(results, key):
        out = torch.full((len(videos), count), float('nan'))
        for v, hits in enumerate(results):
            for hit in hits:
                out[v, row[hit['caption']]] = hit[key]
        return out

    vtc = search(videos, top_k=count)
    torch.testing.assert_close(matrix(vtc, 'score'), sims.t())
    vtm = search(videos, top_k=count, rerank_k=count)
    torch.testing.assert_close(matrix(vtm, 'score'), scores.t())
    top2 = search(videos, top_k=3, rerank_k=2)
    for v, hits in enumerate(top2):
        assert [h['rank'] for h in hits] == [1, 2, 3]
        assert {h['caption']
                for h in hits[:2]} == {h['caption']
                                       for h in vtc[v][:2]}
        for hit in hits[:2]:
            assert hit['score'] == pytest.approx(
                scores[row[hit['caption']], v].item(), abs=1e-5)
        assert hits[2]['caption'] == vtc[v][2]['caption']
        assert hits[2]['score'] < min(h['score'] for h in hits[:2])
