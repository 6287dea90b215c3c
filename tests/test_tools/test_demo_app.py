"""tools/demo/app.py: the app launches on localhost and a Gradio client
drives both tabs (search returns hits naming gallery videos, ask an answer
of the vocabulary); a missing demo checkpoint is one line saying to run
tools/demo.sh."""
import json
import logging
import shutil
from pathlib import Path

import pytest
from mmengine.logging import MMLogger

from tests.tool_modules import load_tool
from tests.tool_runs import REPO, free_port, save_random_model

pytest.importorskip('gradio')
client_module = pytest.importorskip('gradio_client')

RETRIEVAL = REPO / 'tests/data/configs/retrieval_eval.py'
QA = REPO / 'tests/data/configs/video_qa_eval.py'


@pytest.fixture(scope='module', autouse=True)
def no_closed_log_files():
    """Gradio's server (uvicorn) runs ``logging.config.dictConfig``, which
    closes every handler in the process, the log files of the MMEngine
    loggers earlier tests' Runners left included; MMEngine writes to such a
    file's stream directly (``init_weights`` dumps its summary there), so
    the closed ones are taken off after this module."""
    yield
    for logger in MMLogger._instance_dict.values():
        for handler in list(logger.handlers):
            if isinstance(handler,
                          logging.FileHandler) and handler.stream is None:
                logger.removeHandler(handler)


@pytest.fixture(scope='module')
def app_module():
    return load_tool('tools/demo/app.py')


@pytest.fixture(scope='module')
def served(app_module, demo_corpus, tmp_path_factory):
    """``(URL, gallery videos, answer vocabulary)`` of the app launched on
    127.0.0.1 with tiny random models and a gallery of 4 demo videos."""
    from alpro.apis import (TextToVideoRetrievalInferencer, VideoQAInferencer,
                            init_model)
    folder = tmp_path_factory.mktemp('app')
    gallery = folder / 'gallery'
    gallery.mkdir()
    for video in sorted((demo_corpus / 'data/demo/videos').rglob('*.mp4'))[:4]:
        shutil.copy(video, gallery / video.name)
    save_random_model(RETRIEVAL, demo_corpus, folder / 'ret.pth', 0)
    save_random_model(QA, demo_corpus, folder / 'qa.pth', 0)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(demo_corpus)
        retrieval = TextToVideoRetrievalInferencer(
            init_model(RETRIEVAL, folder / 'ret.pth'),
            gallery,
            num_workers=0,
            show_progress=False)
        qa = VideoQAInferencer(init_model(QA, folder / 'qa.pth'))
        app = app_module.build_app(retrieval, qa, rerank_k=3)
        app.launch(
            server_name='127.0.0.1',
            server_port=free_port(),
            prevent_thread_lock=True,
            ssr_mode=False,
            quiet=True)
        try:
            vocabulary = json.loads(
                (demo_corpus / 'data/demo/annotations/demo_qa/'
                 'train_ans2label.json').read_text())
            yield app.local_url, sorted(gallery.glob('*.mp4')), vocabulary
        finally:
            app.close()


def test_search_tab_returns_gallery_videos(served):
    url, videos, _ = served
    client = client_module.Client(url, verbose=False)
    names = {v.name for v in videos}
    for rerank in (False, True):
        items, table = client.predict(
            'a cyan star is drifting up', 3, rerank, api_name='/search')
        assert len(items) == 3 and len(table['data']) == 3
        for rank, (item, row) in enumerate(zip(items, table['data']), 1):
            assert row[0] == rank and Path(row[4]).name in names
            caption_rank, caption_score = item['caption'].split(': ')
            assert int(caption_rank) == rank
            assert float(caption_score) == pytest.approx(row[1], abs=1e-3)
            # the preview is an animated GIF of the clip
            assert Path(item['image']).read_bytes()[:6] == b'GIF89a'
        scores = [row[1] for row in table['data']]
        assert scores == sorted(scores, reverse=True)
    with pytest.raises(Exception, match='Type what to search for'):
        client.predict('  ', 3, False, api_name='/search')


def test_ask_tab_answers_from_the_vocabulary(served, bad_videos):
    url, videos, vocabulary = served
    client = client_module.Client(url, verbose=False)
    # the upload's preview: a GIF whatever the codec
    preview = client.predict(
        client_module.handle_file(str(videos[0])), api_name='/preview')
    assert Path(preview).read_bytes()[:6] == b'GIF89a'
    answer, top, preview = client.predict(
        client_module.handle_file(str(videos[0])),
        'what color is the star',
        api_name='/ask')
    assert answer in vocabulary and top['label'] == answer
    confidences = top['confidences']
    assert len(confidences) == 5
    assert all(c['label'] in vocabulary for c in confidences)
    assert 0 < sum(c['confidence'] for c in confidences) <= 1.0001
    assert Path(preview).read_bytes()[:6] == b'GIF89a'
    with pytest.raises(Exception, match='Upload a video first'):
        client.predict(None, 'what color', api_name='/ask')
    # a file that is not a video: an error naming it, the app still serves
    with pytest.raises(Exception, match='garbage.mp4: cannot'):
        client.predict(
            client_module.handle_file(str(bad_videos['garbage'])),
            'what color',
            api_name='/ask')
    assert client.predict(
        client_module.handle_file(str(videos[1])),
        'what shape',
        api_name='/ask')[0] in vocabulary


def test_missing_demo_checkpoint_says_to_run_demo_sh(app_module, tmp_path,
                                                     monkeypatch, capsys):
    (tmp_path / 'configs').symlink_to(REPO / 'configs')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        app_module.main(['--device', 'cpu'])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith('app.py: error: checkpoint '
                          'work_dirs/finetune_msrvtt_ret/epoch_6.pth')
    assert 'bash tools/demo.sh' in err
