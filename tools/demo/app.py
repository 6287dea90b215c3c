"""A web demo of trained alpro models (Gradio): search a gallery of videos by
text, and ask a question about an uploaded video.

    pip install -e ".[demo]"
    bash tools/demo.sh          # the demo corpus and checkpoints, once
    python tools/demo/app.py    # then open http://127.0.0.1:7860

By default it serves the demo's retrieval and QA checkpoints, with the
held-out demo videos as the gallery (embedded once into a cache under
``work_dirs/``); every path is a flag.
"""
import argparse
import hashlib
import os
import os.path as osp
import tempfile
from typing import Callable, Optional, Sequence, Tuple

import numpy as np
from decord import VideoReader
from PIL import Image

from alpro.apis import (TextToVideoRetrievalInferencer, VideoQAInferencer,
                        init_model)
from alpro.apis.errors import INPUT_ERRORS, INPUT_OR_EXTRA_ERRORS
from alpro.utils.cli import (add_inference_arguments, amp_available,
                             reported_errors)

DEMO = dict(
    retrieval_config='configs/demo/finetune_msrvtt_ret.py',
    retrieval_checkpoint='work_dirs/finetune_msrvtt_ret/epoch_6.pth',
    gallery='data/demo/annotations/msrvtt_ret/test.jsonl',
    cache='work_dirs/demo_app/gallery',
    qa_config='configs/demo/finetune_msrvtt_qa.py',
    qa_checkpoint='work_dirs/finetune_msrvtt_qa/epoch_12.pth')
#: frames and width of the animated preview of a clip
PREVIEW_FRAMES = 12
PREVIEW_SIZE = 160


def import_gradio():
    """Gradio, with the install command if it is missing; no usage
    statistics are sent (no network at run time)."""
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
    try:
        import gradio
    except ImportError as error:
        raise ImportError('the web demo needs Gradio, an optional extra: '
                          'pip install -e ".[demo]"') from error
    return gradio


def clip_preview(path: str, clip: Optional[Tuple[float, float]],
                 folder: str) -> str:
    """An animated GIF of ``clip`` (start and end, in seconds; None: the
    whole video) of the video at ``path``, written once into ``folder``;
    returns its path.

    A GIF plays in every browser, whatever codec the video has.
    """
    key = f'{osp.abspath(path)}:{os.stat(path).st_mtime_ns}:{clip}'
    out = osp.join(folder, hashlib.sha1(key.encode()).hexdigest() + '.gif')
    if osp.isfile(out):
        return out
    reader = VideoReader(path)
    fps = reader.get_avg_fps()
    last = len(reader) - 1
    start, end = (0, last) if clip is None else (min(
        max(round(t * fps), 0), last) for t in clip)
    indices = np.linspace(start, max(start, end), PREVIEW_FRAMES).round()
    frames = reader.get_batch(indices.astype(int).tolist()).asnumpy()
    height, width = frames.shape[1:3]
    size = (PREVIEW_SIZE, max(1, round(PREVIEW_SIZE * height / width)))
    images = [Image.fromarray(f).resize(size, Image.BILINEAR) for f in frames]
    images[0].save(
        out,
        save_all=True,
        append_images=images[1:],
        duration=max(40, round(1000 * (end - start) / fps / PREVIEW_FRAMES)),
        loop=0)
    return out


def shown_path(path: str) -> str:
    """``path`` relative to the working directory when it lies under it."""
    relative = osp.relpath(path)
    return path if relative.startswith('..') else relative


def search_handler(
        retrieval: TextToVideoRetrievalInferencer, rerank_k: int,
        folder: str) -> Callable[[str, float, bool], Tuple[list, list]]:
    """The Search tab's function: ``(query, top_k, rerank)`` -> (gallery
    items ``(preview, caption)``, table rows)."""
    gr = import_gradio()

    def search(query: str, top_k: float, rerank: bool) -> Tuple[list, list]:
        if not query or not query.strip():
            raise gr.Error('Type what to search for.', print_exception=False)
        top_k = int(top_k)
        try:
            hits = retrieval(
                query,
                top_k=top_k,
                rerank_k=max(rerank_k, top_k) if rerank else None)[0]
        except INPUT_ERRORS as error:
            raise gr.Error(str(error), print_exception=False) from error
        items, rows = [], []
        for hit in hits:
            start, end = hit['clip']
            name = shown_path(hit['path'])
            preview = clip_preview(hit['path'], hit['clip'], folder)
            items.append((preview, f"{hit['rank']}: {hit['score']:.3f}"))
            rows.append([
                hit['rank'],
                round(hit['score'], 4),
                round(hit['vtc'], 4), f'{start:.1f}-{end:.1f}', name
            ])
        return items, rows

    return search


def ask_handler(qa: VideoQAInferencer,
                folder: str,
                top_k: int = 5) -> Callable[[str, str], Tuple[str, dict, str]]:
    """The Ask tab's function: ``(video path, question)`` -> (answer,
    ``{answer: probability}`` of the top ``top_k``, preview of the clip
    used)."""
    gr = import_gradio()

    def ask(video: Optional[str], question: str) -> Tuple[str, dict, str]:
        if not video:
            raise gr.Error('Upload a video first.', print_exception=False)
        if not question or not question.strip():
            raise gr.Error(
                'Type a question about the video.', print_exception=False)
        try:
            result = qa(video, question, top_k=top_k)
            preview = clip_preview(video, result['clip'], folder)
        except INPUT_ERRORS as error:
            raise gr.Error(
                f'{osp.basename(video)}: {error}',
                print_exception=False) from error
        return result['answer'], dict(result['top']), preview

    return ask


def preview_handler(folder: str) -> Callable[[Optional[str]], str]:
    """The Ask tab's preview of an uploaded video: ``path`` -> GIF."""
    gr = import_gradio()

    def preview(video: Optional[str]) -> Optional[str]:
        if not video:
            return None
        try:
            return clip_preview(video, None, folder)
        except INPUT_ERRORS as error:
            raise gr.Error(
                f'{osp.basename(video)}: {error}',
                print_exception=False) from error

    return preview


def build_app(retrieval: TextToVideoRetrievalInferencer,
              qa: VideoQAInferencer,
              rerank_k: int = 32,
              max_top_k: int = 10):
    """The demo's two tabs, Search and Ask, as a ``gradio.Blocks``.

    Args:
        retrieval: searches the gallery (already embedded).
        qa: answers questions.
        rerank_k: with the re-rank box ticked, the top
            ``max(rerank_k, top_k)`` by VTC are re-scored by VTM.
        max_top_k: the top-k slider's maximum.
    """
    gr = import_gradio()
    folder = tempfile.mkdtemp(prefix='alpro_demo_')
    max_top_k = max(1, min(max_top_k, len(retrieval.paths)))
    with gr.Blocks(title='alpro demo', analytics_enabled=False) as app:
        gr.Markdown('## alpro: video search and video question answering')
        with gr.Tab('Search'):
            gr.Markdown(f'Search {len(retrieval.paths)} videos by text.')
            with gr.Row():
                query = gr.Textbox(
                    label='query',
                    placeholder='a red circle moves left',
                    scale=4)
                top_k = gr.Slider(
                    1,
                    max_top_k,
                    value=min(5, max_top_k),
                    step=1,
                    label='top-k')
                rerank = gr.Checkbox(
                    label=f're-rank the top {rerank_k} with VTM')
            run = gr.Button('Search', variant='primary')
            hits = gr.Gallery(
                label='top hits (rank: score), the clip each was scored on',
                columns=5,
                height=240,
                object_fit='contain')
            table = gr.Dataframe(
                headers=['rank', 'score', 'VTC', 'clip (s)', 'video'],
                label='scores',
                interactive=False)
            handler = search_handler(retrieval, rerank_k, folder)
            inputs = [query, top_k, rerank]
            run.click(handler, inputs, [hits, table], api_name='search')
            query.submit(handler, inputs, [hits, table], api_name=False)
        with gr.Tab('Ask'):
            gr.Markdown('Ask a question about a video.')
            with gr.Row():
                with gr.Column():
                    # a file, not gr.Video: the browser plays few codecs;
                    # the preview shows any video decord reads
                    video = gr.File(
                        label='video',
                        file_types=['video'],
                        type='filepath',
                        elem_id='video')
                    question = gr.Textbox(
                        label='question', placeholder='what color is it')
                    ask_button = gr.Button('Ask', variant='primary')
                with gr.Column():
                    answer = gr.Textbox(label='answer', interactive=False)
                    top = gr.Label(num_top_classes=5, label='top-5 answers')
                    used = gr.Image(
                        label='preview (after asking: the clip the model saw)',
                        type='filepath')
            video.upload(
                preview_handler(folder), video, used, api_name='preview')
            handler = ask_handler(qa, folder)
            outputs = [answer, top, used]
            ask_button.click(
                handler, [video, question], outputs, api_name='ask')
            question.submit(
                handler, [video, question], outputs, api_name=False)
    return app


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Web demo: search videos by text, ask about a video')
    helps = dict(
        retrieval_config='the retrieval model config',
        retrieval_checkpoint='its checkpoint',
        gallery='the videos to search: a folder, or an annotation file',
        cache='where their embeddings are kept (NAME.safetensors/.json)',
        qa_config='the video QA model config',
        qa_checkpoint='its checkpoint')
    for key, value in DEMO.items():
        parser.add_argument(
            '--' + key.replace('_', '-'),
            default=value,
            help=f'{helps[key]} (default: {value})')
    parser.add_argument(
        '--rerank-k',
        type=int,
        default=32,
        help='how many VTC hits VTM re-scores when asked')
    add_inference_arguments(parser)
    parser.add_argument(
        '--host',
        default='127.0.0.1',
        help='the address to serve on (0.0.0.0: every interface)')
    parser.add_argument('--port', type=int, default=7860)
    return parser.parse_args(argv)


def load_models(
    args: argparse.Namespace
) -> Tuple[TextToVideoRetrievalInferencer, VideoQAInferencer]:
    """The retrieval inferencer over the embedded gallery, and the QA
    inferencer, from the flags.

    Raises:
        FileNotFoundError: a config, checkpoint or gallery is missing; for
            the demo's, the message says to run ``bash tools/demo.sh``.
    """
    needed = {
        'config': args.retrieval_config,
        'checkpoint': args.retrieval_checkpoint,
        'gallery': args.gallery,
        'QA config': args.qa_config,
        'QA checkpoint': args.qa_checkpoint
    }
    for kind, path in needed.items():
        if osp.exists(path):
            continue
        if 'config' in kind:
            fix = (f'relative paths are read from {os.getcwd()}; run from '
                   'the repository root')
        elif path in DEMO.values():
            fix = 'run `bash tools/demo.sh` to make the demo models'
        else:
            fix = 'check the path'
        raise FileNotFoundError(f'{kind} {path} not found: {fix}')
    amp = args.amp and amp_available()
    retrieval = TextToVideoRetrievalInferencer(
        init_model(args.retrieval_config, args.retrieval_checkpoint,
                   args.device),
        args.gallery,
        args.cache,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        amp=amp,
        checkpoint=args.retrieval_checkpoint)
    for path, reason in retrieval.skipped:
        print(f'gallery: skipped {path}: {reason}')
    qa = VideoQAInferencer(
        init_model(args.qa_config, args.qa_checkpoint, args.device), amp=amp)
    return retrieval, qa


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    with reported_errors(
            'app.py', args.debug, errors=INPUT_OR_EXTRA_ERRORS, one_line=True):
        gr = import_gradio()
        retrieval, qa = load_models(args)
    app = build_app(retrieval, qa, rerank_k=args.rerank_k)
    # system fonts: the default theme's web fonts would need the network
    theme = gr.themes.Default(
        font=['ui-sans-serif', 'system-ui', 'sans-serif'],
        font_mono=['ui-monospace', 'monospace'])
    app.launch(
        server_name=args.host,
        server_port=args.port,
        ssr_mode=False,
        theme=theme)


if __name__ == '__main__':
    main()
