"""Open-ended video QA accuracy, overall and per question type."""
import logging
from collections import Counter
from typing import Any, Dict, List, Sequence

from mmengine.logging import print_log
from torch import Tensor

from alpro.registry import METRICS
from .base_video_text_metric import BaseVideoTextMetric

__all__ = ['VideoQAMetric']


def _as_int(value: Any) -> int:
    """An int from an int or a one-element tensor."""
    return int(value.item()) if isinstance(value, Tensor) else int(value)


@METRICS.register_module()
class VideoQAMetric(BaseVideoTextMetric):
    """Answer accuracy of video QA (MSRVTT-QA, MSVD-QA), as ALPRO reports.

    Each kept sample contributes its predicted answer index ``pred_label``
    (set by the predict mode of
    :class:`~alpro.models.algorithms.AlproVideoQA`), its gold
    ``answer_label`` (-1 when the answer is not in the training answer
    vocabulary: such a question is always wrong, and stays in the
    denominator, as in ALPRO) and, optionally, its ``answer_type`` (what /
    who / how / where / when), from a meta or a data field.

    Metrics, in percent: ``acc`` over every kept sample; for each type
    ``acc_{type}`` (accuracy within that type) and ``share_{type}`` (the
    type's percentage of the kept samples); and ``left_out`` (the count of
    placeholder samples, from :class:`BaseVideoTextMetric`).

    Args:
        collect_device: ``'cpu'`` or ``'gpu'``, for collecting results
            across ranks.
        prefix: the prefix of the metric names, ``'qa'`` by default.
    """

    default_prefix = 'qa'

    def process_kept(self, data_batch: Any, data_samples: Sequence) -> None:
        """Keep each sample's predicted and gold answer and its type.

        Args:
            data_batch: the batch from the data loader (unused).
            data_samples: the model's outputs, data samples or their
                ``to_dict()``, each with ``pred_label`` and
                ``answer_label`` and optionally ``answer_type``.
        """
        for sample in data_samples:
            record = {}
            for key in ('pred_label', 'answer_label'):
                # MMEngine's Evaluator hands on each data sample's
                # to_dict(), meta and data fields side by side; a data
                # sample's get() reads both kinds too
                value = sample.get(key)
                if value is None:
                    raise KeyError(
                        f"VideoQAMetric: an output data sample has no '{key}'"
                        "; the model's predict mode must set pred_label and "
                        'the QA dataset answer_label (-1 for an answer '
                        'outside train_ans2label.json)')
                record[key] = _as_int(value)
            answer_type = sample.get('answer_type')
            record['answer_type'] = (None if answer_type is None else
                                     str(answer_type))
            self.results.append(record)

    def compute_kept(self, results: List) -> Dict[str, float]:
        """Accuracy and per-type accuracy and share of the kept samples.

        Args:
            results: one dict per kept sample, as :meth:`process_kept`
                stores.

        Returns:
            ``acc``, and ``acc_{type}`` and ``share_{type}`` for each
            answer type met, in percent; ``acc`` is NaN when every sample
            was left out.
        """
        if not results:
            print_log(
                'VideoQAMetric: no sample to score, every one was left out',
                logger='current',
                level=logging.WARNING)
            return dict(acc=float('nan'))
        # an out-of-vocabulary gold label (-1) never equals a prediction
        correct = [
            r['answer_label'] >= 0 and r['pred_label'] == r['answer_label']
            for r in results
        ]
        metrics = dict(acc=100.0 * sum(correct) / len(results))
        totals: Counter = Counter()
        hits: Counter = Counter()
        for record, right in zip(results, correct):
            if record['answer_type'] is not None:
                totals[record['answer_type']] += 1
                hits[record['answer_type']] += right
        for answer_type in sorted(totals):
            total = totals[answer_type]
            metrics[f'acc_{answer_type}'] = 100.0 * hits[answer_type] / total
            metrics[f'share_{answer_type}'] = 100.0 * total / len(results)
        return metrics
