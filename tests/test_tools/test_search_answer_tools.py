"""tools/search.py and tools/answer.py as a user runs them: index a folder,
query the cache (a table of gallery videos, the API's scores), index again
(everything reused), answer a question; bad input exits with status 2 and
one line on stderr."""
import json
import re
import shutil
import subprocess
import sys

import pytest

from tests.tool_modules import load_tool
from tests.tool_runs import REPO, run_tool, save_random_model, tool_env

RETRIEVAL = REPO / 'tests/data/configs/retrieval_eval.py'
QA = REPO / 'tests/data/configs/video_qa_eval.py'
SEARCH = str(REPO / 'tools/search.py')
ANSWER = str(REPO / 'tools/answer.py')
#: a row of search.py's table: rank, score, clip range, path
ROW = re.compile(r'^\s*(\d+)\s+(-?\d+\.\d+)\s+(\d+\.\d)-(\d+\.\d)\s+(\S.*)$')


@pytest.fixture(scope='module')
def workdir(demo_corpus, tmp_path_factory):
    """A folder with a random retrieval checkpoint (``ret.pth``) and
    ``gallery/``: 4 demo videos and a file that is not a video
    (``broken.mp4``)."""
    models = tmp_path_factory.mktemp('models')
    save_random_model(RETRIEVAL, demo_corpus, models / 'ret.pth', 0)
    gallery = models / 'gallery'
    gallery.mkdir()
    for video in sorted((demo_corpus / 'data/demo/videos').rglob('*.mp4'))[:4]:
        shutil.copy(video, gallery / video.name)
    (gallery / 'broken.mp4').write_bytes(b'not a video' * 100)
    return models


@pytest.fixture(scope='module')
def qa_checkpoint(workdir, demo_corpus) -> str:
    """A random checkpoint of the tiny QA model."""
    save_random_model(QA, demo_corpus, workdir / 'qa.pth', 0)
    return str(workdir / 'qa.pth')


def gallery_videos(workdir) -> list:
    """The good videos of the gallery, sorted."""
    return sorted(
        str(p) for p in (workdir / 'gallery').glob('*.mp4')
        if p.name != 'broken.mp4')


def table(output: str) -> list:
    """The rows of search.py's table: ``(rank, score, start, end, path)``."""
    return [(int(m[1]), float(m[2]), float(m[3]), float(m[4]), m[5])
            for m in map(ROW.match, output.splitlines()) if m]


@pytest.mark.slow
def test_index_query_and_reindex(workdir, demo_corpus, monkeypatch):
    cache = workdir / 'cache/gallery'
    index = [
        sys.executable, SEARCH, 'index',
        str(RETRIEVAL),
        str(workdir / 'ret.pth'),
        str(workdir / 'gallery'), '--cache',
        str(cache), '--num-workers', '0', '--device', 'cpu'
    ]
    output = run_tool(index, demo_corpus)
    assert 'gallery' in output and '4 videos (embedded 4, reused 0, ' \
        'dropped 0, skipped 1)' in output, output
    assert re.search(r'skipped \S*broken\.mp4: \S', output), output

    # the top 4 by VTC (FAISS's exact index) re-scored by VTM: a table of
    # gallery videos with the API's scores for the same cache (its exact
    # torch search), to the printed digits
    text = 'a cyan star is drifting diagonally up-right'
    output = run_tool([
        sys.executable, SEARCH, 'query',
        str(cache), text, '--top-k', '3', '--rerank-k', '4', '--score',
        'vtm_prob', '--num-workers', '0', '--device', 'cpu', '--index', 'faiss'
    ], demo_corpus)
    assert '(faiss search), ranked by VTC, the top 4 re-ranked by VTM' in (
        output), output
    rows = table(output)
    assert [r[0] for r in rows] == [1, 2, 3], output
    assert all(r[4] in gallery_videos(workdir) and 0 <= r[1] <= 1
               for r in rows)
    assert all(0 <= r[2] < r[3] for r in rows)
    from alpro.apis import TextToVideoRetrievalInferencer, init_model
    monkeypatch.chdir(demo_corpus)
    hits = TextToVideoRetrievalInferencer(
        init_model(RETRIEVAL, workdir / 'ret.pth'), cache=cache,
        num_workers=0)(
            text, top_k=3, rerank_k=4, score='vtm_prob')[0]
    assert [(r[4], r[1]) for r in rows] == [(h['path'], round(h['score'], 4))
                                            for h in hits]

    # again: nothing to embed
    output = run_tool(index, demo_corpus)
    assert '4 videos (embedded 0, reused 4, dropped 0, skipped 1)' in output


@pytest.mark.slow
def test_answer_prints_the_answer_and_top_k(workdir, qa_checkpoint,
                                            demo_corpus):
    video = gallery_videos(workdir)[0]
    output = run_tool([
        sys.executable, ANSWER,
        str(QA), qa_checkpoint, video, 'what color is the star', '--top-k',
        '3', '--device', 'cpu'
    ], demo_corpus)
    vocabulary = json.loads(
        (demo_corpus /
         'data/demo/annotations/demo_qa/train_ans2label.json').read_text())
    answer = re.search(r'^answer: (.+)$', output, re.M)[1]
    assert answer in vocabulary, output
    rows = re.findall(r'^\s*(\d)\s+(\d\.\d{4})\s+(\S.*)$', output, re.M)
    assert [int(r[0]) for r in rows] == [1, 2, 3], output
    probs = [float(r[1]) for r in rows]
    assert rows[0][2] == answer and probs == sorted(probs, reverse=True)
    assert all(r[2] in vocabulary for r in rows) and sum(probs) <= 1.0001


def one_line_error(tool: str, argv: list, capsys) -> str:
    """Run ``tool``'s main in this process; assert it exits with status 2
    and one line on stderr, and return that line."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        load_tool(f'tools/{tool}').main(argv)
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith(f'{tool}: error: ')
    return err


def test_bad_input_is_one_line_and_exit_status_2(workdir, qa_checkpoint,
                                                 demo_corpus, tmp_path,
                                                 monkeypatch, capsys,
                                                 bad_videos):
    monkeypatch.chdir(demo_corpus)
    ret, qa = str(workdir / 'ret.pth'), qa_checkpoint
    cpu = ['--device', 'cpu']
    assert 'video folder nowhere not found' in one_line_error(
        'search.py',
        ['index',
         str(RETRIEVAL), ret, 'nowhere', '--cache', 'c', *cpu], capsys)
    # the QA checkpoint is not the retrieval model's: the tensors named
    err = one_line_error('search.py', [
        'index',
        str(RETRIEVAL), qa,
        str(workdir / 'gallery'), '--cache', 'c', *cpu
    ], capsys)
    assert f'checkpoint {qa} does not fit' in err and 'qa_head' in err
    assert 'no cache at' in one_line_error(
        'search.py', ['query', str(tmp_path / 'none'), 'a star', *cpu], capsys)
    assert 'the query is empty' in one_line_error(
        'search.py', ['query', str(tmp_path / 'none'), '  ', *cpu], capsys)

    # a cache whose checkpoint has been replaced by another model's
    cache = str(tmp_path / 'one')
    one = tmp_path / 'one_video'
    one.mkdir()
    shutil.copy(gallery_videos(workdir)[0], one)
    checkpoint = tmp_path / 'ret.pth'
    shutil.copy(ret, checkpoint)
    load_tool('tools/search.py').main([
        'index',
        str(RETRIEVAL),
        str(checkpoint),
        str(one), '--cache', cache, '--num-workers', '0', *cpu
    ])
    save_random_model(RETRIEVAL, demo_corpus, checkpoint, 1)
    assert 'built with another model' in one_line_error(
        'search.py', ['query', cache, 'a star', *cpu], capsys)

    video = gallery_videos(workdir)[0]
    assert f'video {bad_videos["missing"]} not found' in one_line_error(
        'answer.py',
        [str(QA), qa, str(bad_videos['missing']), 'what', *cpu], capsys)
    assert 'the question is empty' in one_line_error(
        'answer.py', [str(QA), qa, video, '', *cpu], capsys)
    err = one_line_error(
        'answer.py',
        [str(QA), qa, str(bad_videos['garbage']), 'what', *cpu], capsys)
    assert 'garbage.mp4' in err


@pytest.mark.slow
def test_a_real_process_exits_2_with_one_line(demo_corpus):
    done = subprocess.run([sys.executable, SEARCH, 'query', 'no_cache', ''],
                          cwd=demo_corpus,
                          env=tool_env(),
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        'search.py: error: the query is empty: give the text to search for'
        ' (--debug shows where it was raised)'
    ]
