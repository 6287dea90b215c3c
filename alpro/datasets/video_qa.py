"""Open-ended video question answering: MSRVTT-QA, MSVD-QA (ALPRO jsonl)."""
import logging
import os.path as osp
from collections import Counter
from typing import Dict, List, Optional

from mmengine.logging import print_log

from alpro.registry import DATASETS
from .base_video_text_dataset import (AnnotationError, BaseVideoTextDataset,
                                      iter_jsonl, load_json)

__all__ = ['VideoQADataset', 'build_answer_vocab']

QA_KEYS = ('question', 'answer', 'video_id')
ANSWER_TYPES = ('what', 'who', 'how', 'where', 'when', 'other')


def build_answer_vocab(answers: List[str], size: int) -> Dict[str, int]:
    """Index the ``size`` most frequent answers.

    Ties are broken alphabetically, so the vocabulary does not depend on
    the order of the annotation.

    Args:
        answers: every training answer (with repeats).
        size: the largest number of answers to keep.

    Returns:
        ``{answer: index}``, index 0 the most frequent answer.
    """
    counts = Counter(answers)
    ranked = sorted(counts, key=lambda answer: (-counts[answer], answer))
    return {answer: i for i, answer in enumerate(ranked[:size])}


@DATASETS.register_module()
class VideoQADataset(BaseVideoTextDataset):
    """Open-ended video QA as classification over an answer vocabulary.

    The annotation is ALPRO's ``{msrvtt,msvd}_qa/txt/{split}.jsonl``: one
    question per line, ``{"question", "answer", "video_id", "answer_type"}``
    (``answer_type`` in what/who/how/where/when; missing or unknown types
    become ``'other'``). The video is
    ``{data_prefix.video}/{video_id}{video_ext}`` (MSVD-QA: ``'.avi'``).

    The answer vocabulary (``ans2label``) comes from ``ans2label_file``
    (ALPRO's ``train_ans2label.json``, ``{answer: index}``) or, without it,
    from the ``answer_vocab_size`` most frequent answers of
    ``vocab_ann_file`` (default: ``ann_file`` itself, which must then be the
    training annotation; ties broken alphabetically). A sample whose answer
    is outside the vocabulary gets ``answer_label = -1``: it is kept in test
    mode, where the metric counts it as wrong, and dropped (with a logged
    count) in training.

    Each sample has ``video_id``, ``video_path``, ``text`` (the question),
    ``question_id`` (the annotation's, else the record's 0-based index),
    ``answer`` (str), ``answer_label`` (int) and ``answer_type``; a
    ``PackVideoTextInputs(data_keys=('answer_label', ), meta_keys=(...,
    'answer_type'))`` carries them into the data sample. ``ans2label`` and
    ``label2ans`` are attributes and ``metainfo`` entries, so configs can
    size a classifier head with ``len(metainfo['ans2label'])``.

    Args:
        ann_file: the jsonl.
        ans2label_file: ``train_ans2label.json``; overrides the counted
            vocabulary.
        answer_vocab_size: answers kept when the vocabulary is counted.
        vocab_ann_file: the training jsonl to count answers on (for a test
            set without ``ans2label_file``).
        video_ext: extension appended to the video id.
        **kwargs: see :class:`BaseVideoTextDataset`.
    """

    def __init__(self,
                 ann_file: str,
                 ans2label_file: Optional[str] = None,
                 answer_vocab_size: int = 1500,
                 vocab_ann_file: Optional[str] = None,
                 video_ext: str = '.mp4',
                 test_mode: bool = False,
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        self.video_ext = video_ext
        self.ans2label = self._load_vocab(ann_file, ans2label_file,
                                          answer_vocab_size, vocab_ann_file,
                                          test_mode)
        self.label2ans = {i: a for a, i in self.ans2label.items()}
        metainfo = dict(metainfo or {})
        metainfo.update(ans2label=self.ans2label, label2ans=self.label2ans)
        super().__init__(
            ann_file=ann_file,
            test_mode=test_mode,
            metainfo=metainfo,
            **kwargs)

    @staticmethod
    def _load_vocab(ann_file: str, ans2label_file: Optional[str], size: int,
                    vocab_ann_file: Optional[str],
                    test_mode: bool) -> Dict[str, int]:
        if ans2label_file:
            ans2label = load_json(ans2label_file)
            if not isinstance(ans2label, dict) or not all(
                    isinstance(i, int) and not isinstance(i, bool)
                    for i in ans2label.values()):
                raise AnnotationError(
                    ans2label_file, None,
                    'expected a JSON object {answer: integer index}')
            if sorted(ans2label.values()) != list(range(len(ans2label))):
                raise AnnotationError(
                    ans2label_file, None,
                    f'indices must be 0..{len(ans2label) - 1}, each once')
            return ans2label
        if vocab_ann_file is None:
            if test_mode:
                raise ValueError(
                    f'VideoQADataset({ann_file}): a test set needs the '
                    'training vocabulary: set ans2label_file '
                    '(train_ans2label.json) or vocab_ann_file (the training '
                    'jsonl)')
            vocab_ann_file = ann_file
        if not osp.isfile(vocab_ann_file):
            raise FileNotFoundError(
                f'VideoQADataset: annotation file {vocab_ann_file} not found')
        if size < 1:
            raise ValueError(f'answer_vocab_size must be >= 1, got {size}')
        answers = [
            str(record['answer']).strip()
            for _, record in iter_jsonl(vocab_ann_file, QA_KEYS)
        ]
        return build_answer_vocab(answers, size)

    def load_data_list(self) -> List[dict]:
        data_list, dropped = [], 0
        for index, (line,
                    record) in enumerate(iter_jsonl(self.ann_file, QA_KEYS)):
            question, video_id = record['question'], record['video_id']
            if not isinstance(question, str) or not question.strip():
                raise AnnotationError(self.ann_file, line,
                                      'empty or non-string question')
            if not isinstance(video_id, (str, int)) or not str(video_id):
                raise AnnotationError(self.ann_file, line, 'empty video_id')
            if record['answer'] is None or not str(record['answer']).strip():
                raise AnnotationError(self.ann_file, line, 'empty answer')
            answer = str(record['answer']).strip()
            label = self.ans2label.get(answer, -1)
            if label < 0 and not self.test_mode:
                dropped += 1
                continue
            answer_type = record.get('answer_type')
            if answer_type not in ANSWER_TYPES:
                answer_type = 'other'
            video_id = str(video_id).strip()
            data_list.append(
                dict(
                    video_id=video_id,
                    video_path=self.resolve_path(video_id + self.video_ext,
                                                 line),
                    text=question.strip(),
                    question_id=record.get('question_id', index),
                    answer=answer,
                    answer_label=label,
                    answer_type=answer_type))
        if dropped:
            print_log(
                f'{self.ann_file}: dropped {dropped} training questions whose '
                f'answer is outside the {len(self.ans2label)}-answer '
                'vocabulary',
                logger='current',
                level=logging.WARNING)
        return data_list
