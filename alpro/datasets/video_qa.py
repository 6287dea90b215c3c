"""Open-ended video question answering: MSRVTT-QA, MSVD-QA (ALPRO's jsonl
and the authors' public JSON)."""
import logging
import os.path as osp
from collections import Counter
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from mmengine.logging import print_log

from alpro.registry import DATASETS
from .base_video_text_dataset import (BaseVideoTextDataset, jsonl_lines,
                                      jsonl_record, load_json)
from .errors import AnnotationError, BadRowError, SkipRow
from .row_policy import parse_rows

__all__ = ['VideoQADataset', 'build_answer_vocab', 'read_video_mapping']

QA_KEYS = ('question', 'answer', 'video_id')
#: the question types of MSRVTT-QA and MSVD-QA (the question's wh-word)
ANSWER_TYPES = ('what', 'who', 'how', 'where', 'when')


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


def read_video_mapping(mapping_file: str) -> Dict[str, str]:
    """MSVD's ``youtube_mapping.txt``: ``<clip name> vid<N>`` per line.

    Returns:
        ``{'vidN': clip name}``.

    Raises:
        AnnotationError: a line is not two fields, or a ``vidN`` repeats.
    """
    mapping: Dict[str, str] = {}
    with open(mapping_file, encoding='utf-8') as f:
        for line, text in enumerate(f, 1):
            fields = text.split()
            if not fields:
                continue
            if len(fields) != 2:
                raise AnnotationError(
                    mapping_file, line,
                    f'expected "<clip name> vid<N>", got {text.strip()!r}')
            clip, name = fields
            if name in mapping:
                raise AnnotationError(mapping_file, line,
                                      f"'{name}' is mapped twice")
            mapping[name] = clip
    return mapping


def qa_rows(ann_file: str) -> Tuple[Iterable, Callable[[object], dict], str]:
    """The rows of a QA annotation, in either form.

    Args:
        ann_file: ALPRO's ``.jsonl`` (one question per line) or the public
            ``{split}_qa.json`` (a JSON list of records).

    Returns:
        ``(rows, decode, unit)``: ``(N, raw)`` pairs, the function that
        turns a raw row into a record with the :data:`QA_KEYS` (raising
        :class:`BadRowError`), and what N counts.
    """
    ext = osp.splitext(ann_file)[1].lower()
    if ext == '.jsonl':
        return (jsonl_lines(ann_file),
                lambda text: jsonl_record(text, QA_KEYS), 'line')
    if ext == '.json':
        records = load_json(ann_file)
        if not isinstance(records, list):
            raise AnnotationError(
                ann_file, None, 'expected a JSON list of question records '
                '(the public {split}_qa.json)')

        def decode(record: object) -> dict:
            if not isinstance(record, dict):
                raise BadRowError(
                    f'expected a JSON object, got {type(record).__name__}')
            missing = [key for key in QA_KEYS if key not in record]
            if missing:
                raise BadRowError(
                    f'missing {missing}; expected the keys {list(QA_KEYS)}')
            return record

        return enumerate(records), decode, 'record'
    raise AnnotationError(
        ann_file, None, f"unknown QA annotation form '{ext}': expected "
        "ALPRO's .jsonl or the public {split}_qa.json")


def _answer(record: dict) -> str:
    answer = record['answer']
    if answer is None or isinstance(answer,
                                    (dict, list)) or not str(answer).strip():
        raise BadRowError('empty answer')
    return str(answer).strip()


@DATASETS.register_module()
class VideoQADataset(BaseVideoTextDataset):
    """Open-ended video QA as classification over an answer vocabulary.

    Two annotation forms, told apart by the file's extension:

    * ``.jsonl``: ALPRO's ``{msrvtt,msvd}_qa/txt/{split}.jsonl``, one
      question per line, ``{"question", "answer", "video_id",
      "answer_type"}``;
    * ``.json``: the authors' public release (Xu et al. 2017),
      ``{train,val,test}_qa.json``: a JSON list of ``{"question", "answer",
      "video_id", "id"}`` with an integer ``video_id``. Name the videos with
      ``video_name`` (MSRVTT-QA: ``'video{video_id}'``); MSVD-QA also needs
      ``video_mapping_file='youtube_mapping.txt'`` with
      ``video_name='vid{video_id}'`` and ``video_ext='.avi'``.

    The video is ``{data_prefix.video}/{name}{video_ext}``, ``name`` being
    ``video_name.format(video_id=...)``, looked up in the mapping when one
    is given.

    ``answer_type`` is the record's, or else the question's first word (the
    wh-word that defines the types of both datasets: what, who, how, where,
    when). A type outside those five keeps its own name (the metric reports
    ``acc_{type}`` for it) and is counted in the start-up log; it is never
    folded into another type.

    The answer vocabulary (``ans2label``) comes from ``ans2label_file``
    (ALPRO's ``train_ans2label.json``, ``{answer: index}``) or, without it,
    from the ``answer_vocab_size`` most frequent answers of
    ``vocab_ann_file`` (default: ``ann_file`` itself, which must then be the
    training annotation; ties broken alphabetically): ALPRO's release
    classifies the 1500 most frequent training answers of MSRVTT-QA and
    2423 of MSVD-QA. A question whose answer is outside the vocabulary gets
    ``answer_label = -1``: it is kept in test mode, where the metric counts
    it as wrong, and left out (counted in the start-up summary) in
    training.

    Rows that cannot be used (an empty question, answer or video id, a line
    that is not JSON, a video missing from the mapping) are bad rows, see
    :class:`BaseVideoTextDataset`.

    Each sample has ``video_id``, ``video_path``, ``text`` (the question),
    ``question_id`` (the annotation's ``question_id`` or ``id``, else the
    row's 0-based index), ``answer`` (str), ``answer_label`` (int) and
    ``answer_type``; a ``PackVideoTextInputs(data_keys=('answer_label', ),
    meta_keys=(..., 'answer_type'))`` carries them into the data sample.
    With ``opposite_answers`` each sample also has ``opposite_label``: the
    label of the answer the same question has for the clip played
    backwards (``left`` for ``right``), -1 for an answer in no pair; the
    order-aware QA objective (``AlproVideoQA(reversed_clips=True)``)
    trains on it.
    ``ans2label`` and ``label2ans`` are attributes and ``metainfo`` entries,
    so configs can size a classifier head with
    ``len(metainfo['ans2label'])``; the model checks each label against its
    ``num_answers``.

    Args:
        ann_file: the jsonl or the public json.
        ans2label_file: ``train_ans2label.json``; overrides the counted
            vocabulary.
        answer_vocab_size: answers kept when the vocabulary is counted.
        vocab_ann_file: the training annotation to count answers on (for a
            test set without ``ans2label_file``), in either form.
        video_name: template of the video's name, field ``video_id``.
        video_mapping_file: MSVD's ``youtube_mapping.txt``.
        video_ext: extension appended to the video name.
        opposite_answers: pairs of answers that time reversal swaps
            (``[('left', 'right'), ...]``); a pair with an answer outside
            the vocabulary is left out, named and counted in a warning
            (none left is an error).
        **kwargs: see :class:`BaseVideoTextDataset`.
    """

    def __init__(self,
                 ann_file: str,
                 ans2label_file: Optional[str] = None,
                 answer_vocab_size: int = 1500,
                 vocab_ann_file: Optional[str] = None,
                 video_name: str = '{video_id}',
                 video_mapping_file: Optional[str] = None,
                 video_ext: str = '.mp4',
                 opposite_answers: Sequence[Tuple[str, str]] = (),
                 test_mode: bool = False,
                 metainfo: Optional[dict] = None,
                 max_bad_row_ratio: float = 0.01,
                 **kwargs) -> None:
        self.video_name = video_name
        self.video_ext = video_ext
        self.video_mapping = (
            read_video_mapping(video_mapping_file)
            if video_mapping_file else None)
        self.video_mapping_file = video_mapping_file
        self.ans2label = self._load_vocab(ann_file, ans2label_file,
                                          answer_vocab_size, vocab_ann_file,
                                          test_mode, max_bad_row_ratio)
        self.label2ans = {i: a for a, i in self.ans2label.items()}
        self.opposite = self._opposite_labels(opposite_answers, ann_file)
        metainfo = dict(metainfo or {})
        metainfo.update(ans2label=self.ans2label, label2ans=self.label2ans)
        super().__init__(
            ann_file=ann_file,
            test_mode=test_mode,
            metainfo=metainfo,
            max_bad_row_ratio=max_bad_row_ratio,
            **kwargs)

    def _opposite_labels(self, pairs: Sequence[Tuple[str, str]],
                         ann_file: str) -> Dict[int, int]:
        """``{label: label of the opposite answer}`` of ``pairs``; a pair
        with an answer outside the vocabulary is left out, named in a
        warning (a smaller corpus may lack some answers), and none left is
        an error."""
        opposite: Dict[int, int] = {}
        left_out = []
        for pair in pairs:
            if len(pair) != 2 or pair[0] == pair[1]:
                raise ValueError('VideoQADataset: opposite_answers holds '
                                 f'pairs of two answers, got {pair!r}')
            if any(a not in self.ans2label for a in pair):
                left_out.append(pair)
                continue
            first, second = (self.ans2label[a] for a in pair)
            if first in opposite or second in opposite:
                raise ValueError('VideoQADataset: an answer is in two '
                                 f'opposite_answers pairs: {pair!r}')
            opposite.update({first: second, second: first})
        if left_out:
            print_log(
                f'VideoQADataset({ann_file}): {len(left_out)} of '
                f'{len(pairs)} opposite_answers pairs left out, an answer '
                f'outside the {len(self.ans2label)}-answer vocabulary: '
                f'{left_out}',
                logger='current',
                level=logging.WARNING)
            if not opposite:
                raise ValueError(
                    'VideoQADataset: no opposite_answers pair is in the '
                    f'answer vocabulary: {left_out}')
        return opposite

    @staticmethod
    def _load_vocab(ann_file: str, ans2label_file: Optional[str], size: int,
                    vocab_ann_file: Optional[str], test_mode: bool,
                    max_bad_row_ratio: float) -> Dict[str, int]:
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
                    'annotation)')
            vocab_ann_file = ann_file
        if not osp.isfile(vocab_ann_file):
            raise FileNotFoundError(
                f'VideoQADataset: annotation file {vocab_ann_file} not found')
        if size < 1:
            raise ValueError(f'answer_vocab_size must be >= 1, got {size}')
        rows, decode, unit = qa_rows(vocab_ann_file)
        # bad rows are named when this file is read as a dataset; here they
        # only must not be too many
        report = parse_rows(vocab_ann_file, rows,
                            lambda _, raw: dict(answer=_answer(decode(raw))),
                            unit)
        report.check(max_bad_row_ratio)
        return build_answer_vocab([s['answer'] for s in report.samples], size)

    def _video(self, video_id: object) -> str:
        if isinstance(video_id, bool) or not isinstance(
                video_id, (str, int)) or not str(video_id).strip():
            raise BadRowError('empty or non-string video_id')
        name = self.video_name.format(video_id=str(video_id).strip())
        if self.video_mapping is None:
            return name
        if name not in self.video_mapping:
            raise BadRowError(
                f"video '{name}' is not in {self.video_mapping_file}")
        return self.video_mapping[name]

    def load_data_list(self) -> List[dict]:
        rows, decode, unit = qa_rows(self.ann_file)
        types: Counter = Counter()
        rows = list(rows)
        index_of = {line: index for index, (line, _) in enumerate(rows)}

        def parse(line: int, raw: object) -> dict:
            record = decode(raw)
            question = record['question']
            if not isinstance(question, str) or not question.strip():
                raise BadRowError('empty or non-string question')
            answer = _answer(record)
            name = self._video(record['video_id'])
            answer_type = record.get('answer_type')
            if answer_type is None:
                answer_type = question.split()[0].lower()
            if not isinstance(answer_type, str) or not answer_type.strip():
                raise BadRowError('empty or non-string answer_type')
            label = self.ans2label.get(answer, -1)
            if label < 0 and not self.test_mode:
                raise SkipRow('answer outside the '
                              f'{len(self.ans2label)}-answer vocabulary')
            types[answer_type.strip()] += 1
            sample = dict(
                video_id=name,
                video_path=self.resolve_path(name + self.video_ext, line,
                                             unit),
                text=question.strip(),
                question_id=record.get('question_id',
                                       record.get('id', index_of[line])),
                answer=answer,
                answer_label=label,
                answer_type=answer_type.strip())
            if self.opposite:
                sample['opposite_label'] = self.opposite.get(label, -1)
            return sample

        data_list = self.collect_rows(rows, parse, unit)
        unknown = {t: n for t, n in types.items() if t not in ANSWER_TYPES}
        if unknown:
            listed = ', '.join(f'{t} ({n})' for t, n in sorted(
                unknown.items(), key=lambda item: (-item[1], item[0])))
            print_log(
                f'{self.ann_file}: answer types outside '
                f'{"/".join(ANSWER_TYPES)}, each reported under its own '
                f'name: {listed}',
                logger='current',
                level=logging.WARNING)
        self.answer_type_counts = dict(types)
        return data_list
