"""VideoQAInferencer: the answers and probabilities of the evaluation's
test loop for the same (clip, question) pairs, multi-clip included; a model
of the wrong kind is refused by every inferencer."""
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from alpro.apis import (TextToVideoRetrievalInferencer, VideoQAInferencer,
                        VideoToTextRetrievalInferencer, init_model)
from alpro.registry import DATASETS
from alpro.utils import register_all_modules
from tests.tool_runs import save_random_model
from .conftest import RETRIEVAL_CONFIG

CONFIG = RETRIEVAL_CONFIG.parent / 'video_qa_eval.py'


@pytest.fixture
def model(demo_corpus, tmp_path, monkeypatch):
    save_random_model(CONFIG, demo_corpus, tmp_path / 'qa.pth', 1)
    monkeypatch.chdir(demo_corpus)
    return init_model(CONFIG, tmp_path / 'qa.pth')


def _evaluation(tmp_path):
    """The test loop's ``pred_score`` of each QA test sample, in dataset
    order, and the samples' infos."""
    register_all_modules()
    cfg = Config.fromfile(CONFIG)
    cfg.load_from = str(tmp_path / 'qa.pth')
    cfg.work_dir = str(tmp_path / 'eval')
    cfg.experiment_name = f'api_qa_{tmp_path.name}'
    runner = Runner.from_cfg(cfg)
    scores = {}
    metric = runner.test_loop.evaluator.metrics[0]
    real = metric.process_kept

    def process_kept(data_batch, data_samples):
        scores.update((s['sample_idx'], s['pred_score']) for s in data_samples)
        return real(data_batch, data_samples)

    metric.process_kept = process_kept
    runner.test()
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    return torch.stack([scores[i] for i in range(len(infos))]), infos


def test_answers_equal_the_evaluation(model, tmp_path):
    scores, infos = _evaluation(tmp_path)
    qa = VideoQAInferencer(model, batch_size=3)
    assert len(qa.answers) == 27
    results = qa([i['video_path'] for i in infos], [i['text'] for i in infos],
                 top_k=27)
    label = {a: i for i, a in enumerate(qa.answers)}
    ours = torch.zeros_like(scores)
    for row, result in zip(ours, results):
        assert result['answer'] == result['top'][0][0]
        for answer, prob in result['top']:
            row[label[answer]] = prob
    torch.testing.assert_close(ours, scores)
    assert [r['answer'] for r in results
            ] == [qa.answers[i] for i in scores.argmax(1).tolist()]
    # two clips of 4 frames over the 8-frame demo videos (8 fps): 0 to 1 s
    assert results[0]['clip'] == pytest.approx((0.0, 1.0))

    one = qa(infos[0]['video_path'], infos[0]['text'], top_k=3)
    assert one['answer'] == results[0]['answer']
    assert [a for a, _ in one['top']] == [a for a, _ in results[0]['top'][:3]]
    assert sum(p for _, p in results[0]['top']) == pytest.approx(1, abs=1e-4)


def test_bad_video_and_wrong_model_are_refused(model, bad_videos):
    qa = VideoQAInferencer(model, answers=['yes', 'no'] + ['x'] * 25)
    with pytest.raises(ValueError, match='garbage.mp4: cannot open'):
        qa(str(bad_videos['garbage']), 'what shape is moving')
    with pytest.raises(ValueError, match='2 videos but 1 questions'):
        qa(['a.mp4', 'b.mp4'], ['what'])
    retrieval = init_model(RETRIEVAL_CONFIG)
    with pytest.raises(TypeError, match='does not answer questions'):
        VideoQAInferencer(retrieval)
    for inferencer in (TextToVideoRetrievalInferencer,
                       VideoToTextRetrievalInferencer):
        with pytest.raises(TypeError, match='AlproVideoQA cannot retrieve'):
            inferencer(model, ['a caption'])
