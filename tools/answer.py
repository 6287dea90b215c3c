"""Answer a question about a video with a trained video QA model::

    python tools/answer.py CONFIG CHECKPOINT VIDEO "what is the man holding?"

prints the answer and the top-k answers with their probabilities. Bad input
(a missing file, a video that does not decode, an empty question) exits with
status 2 and a one-line reason on stderr.
"""
import argparse
import os.path as osp
from typing import Optional, Sequence

from alpro.apis import VideoQAInferencer, init_model
from alpro.apis.errors import INPUT_ERRORS
from alpro.utils.cli import (add_inference_arguments, amp_available,
                             reported_errors)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Answer a question about a video')
    parser.add_argument('config', help='the video QA model config')
    parser.add_argument('checkpoint', help='its trained checkpoint')
    parser.add_argument('video', help='the video file')
    parser.add_argument('question', help='the question')
    parser.add_argument(
        '--top-k', type=int, default=5, help='how many answers to list')
    add_inference_arguments(parser, videos=False)
    return parser.parse_args(argv)


def answer(args: argparse.Namespace) -> dict:
    """Answer ``args.question`` about ``args.video`` and print the top
    answers."""
    for path, kind in ((args.config, 'config'),
                       (args.checkpoint, 'checkpoint'), (args.video, 'video')):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{kind} {path} not found')
    if not args.question.strip():
        raise ValueError('the question is empty: give a question to answer')
    if args.top_k < 1:
        raise ValueError('--top-k must be at least 1')
    model = init_model(args.config, args.checkpoint, args.device)
    inferencer = VideoQAInferencer(model, amp=args.amp and amp_available())
    result = inferencer(args.video, args.question, top_k=args.top_k)
    start, end = result['clip']
    print(f'video: {args.video} (clip {start:.1f}-{end:.1f} s)')
    print(f'question: {args.question}')
    print(f"answer: {result['answer']}")
    print(f"{'rank':>4}  {'prob':>6}  answer")
    for rank, (text, prob) in enumerate(result['top'], 1):
        print(f'{rank:>4}  {prob:>6.4f}  {text}')
    return result


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    with reported_errors(
            'answer.py', args.debug, errors=INPUT_ERRORS, one_line=True):
        answer(args)


if __name__ == '__main__':
    main()
