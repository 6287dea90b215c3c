"""Answer questions about videos with a video QA model."""
import json
from pathlib import Path
from typing import List, Optional, Sequence, Union

import torch
from torch import nn

from alpro.models.algorithms import AlproVideoQA
from .video_loader import autocast, load_videos

__all__ = ['VideoQAInferencer', 'read_answers']


def read_answers(answers: Union[str, Path, Sequence[str]]) -> List[str]:
    """The answer of each label: from an ``ans2label`` JSON file
    (``{answer: label}``, or a list in label order) or a list."""
    if not isinstance(answers, (str, Path)):
        return [str(a) for a in answers]
    path = Path(answers)
    if not path.is_file():
        raise FileNotFoundError(
            f'no answer vocabulary {path} (an ans2label JSON file); for the '
            'demo corpus run python tools/data/make_demo_data.py --out '
            'data/demo')
    vocab = json.loads(path.read_text())
    if isinstance(vocab, list):
        return [str(a) for a in vocab]
    labels = sorted(vocab.values()) if isinstance(vocab, dict) else None
    if labels != list(range(len(vocab))):
        raise ValueError(f'{path}: not an ans2label file ({{answer: label}}'
                         ' with labels 0..A-1, each once)')
    return [a for a, _ in sorted(vocab.items(), key=lambda item: item[1])]


def _default_answers(model: nn.Module) -> str:
    dataset = model.cfg.test_dataloader.dataset
    path = dataset.get('ans2label_file')
    if not path:
        raise ValueError(
            'the config\'s test dataset names no ans2label_file: give the '
            'answer vocabulary with answers=')
    return path


class VideoQAInferencer:
    """Answer questions about videos with an :class:`AlproVideoQA` model.

    Each (video, question) pair goes through the model's test pipeline
    (multi-clip where the config samples several clips), the data
    preprocessor and ``model.predict``, as at evaluation; the answers are
    the classes of the model's QA head.

    Attributes:
        answers: the answer of each label.

    Args:
        model: a video QA model from :func:`~alpro.apis.init_model`.
        answers: an ``ans2label`` JSON file or a list of answers in label
            order; None: the ``ans2label_file`` of the config's test
            dataset.
        amp: bfloat16 autocast on CUDA.
        batch_size: pairs per forward pass.
        num_workers: data-loader worker processes decoding videos.
    """

    def __init__(self,
                 model: nn.Module,
                 *,
                 answers: Optional[Union[str, Path, Sequence[str]]] = None,
                 amp: bool = False,
                 batch_size: int = 8,
                 num_workers: int = 0) -> None:
        if not isinstance(model, AlproVideoQA):
            raise TypeError(
                f'{type(model).__name__} does not answer questions: use a '
                'video QA model (AlproVideoQA, e.g. '
                'configs/demo/finetune_msrvtt_qa.py)')
        self.model = model
        self.amp = amp
        self.loader_args = dict(batch_size=batch_size, num_workers=num_workers)
        self.answers = read_answers(
            _default_answers(model) if answers is None else answers)

    @torch.no_grad()
    def __call__(self,
                 videos: Union[str, Sequence[str]],
                 questions: Union[str, Sequence[str]],
                 top_k: int = 5) -> Union[dict, List[dict]]:
        """Answer each question about its video.

        Args:
            videos: one video file (for every question) or one per question.
            questions: one question or several.
            top_k: answers listed with their probabilities.

        Returns:
            per pair ``answer``, ``top`` ``[(answer, probability), ...]``
            (softmax over the answers, best first) and ``clip``
            ``(start_s, end_s)``; one dict for one video and one question.

        Raises:
            ValueError: a video cannot be decoded (named, with the reason),
                or the lists differ in length.
        """
        single = isinstance(questions, str)
        questions = [questions] if single else list(questions)
        if isinstance(videos, (str, Path)):
            videos = [videos] * len(questions)
        videos = [str(v) for v in videos]
        if len(videos) != len(questions):
            raise ValueError(
                f'{len(videos)} videos but {len(questions)} questions')
        results = []
        for batch in load_videos(self.model, videos, questions,
                                 **self.loader_args):
            if batch.skipped:
                raise ValueError(f'cannot use video {batch.skipped[0][0]}: '
                                 f'{batch.skipped[0][1]}')
            with autocast(self.model, self.amp):
                samples = self.model.predict(batch.inputs, batch.samples)
            for sample in samples:
                results.append(self._answer(sample, top_k))
        return results[0] if single else results

    def _answer(self, sample, top_k: int) -> dict:
        probs = sample.pred_score.float().cpu()
        if probs.numel() != len(self.answers):
            raise ValueError(
                f'the model scores {probs.numel()} answers but the answer '
                f'vocabulary has {len(self.answers)}')
        top = probs.topk(min(top_k, probs.numel()))
        return dict(
            answer=self.answers[int(top.indices[0])],
            top=[(self.answers[int(i)], float(p))
                 for p, i in zip(top.values, top.indices)],
            clip=tuple(sample.clip))
