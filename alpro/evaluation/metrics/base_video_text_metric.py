"""The base of alpro's metrics: it reports the samples left out."""
import logging
from abc import abstractmethod
from typing import Any, Dict, List, Sequence

from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

__all__ = ['BaseVideoTextMetric']


class BaseVideoTextMetric(BaseMetric):
    """A metric that counts the samples an evaluation left out.

    A test-mode dataset with ``skip_bad=True`` hands a bad sample on as a
    placeholder with a ``left_out`` meta field; the data preprocessor drops
    it, so the model's outputs cover only the kept samples. This class
    records each placeholder (across ranks, like any result), reports their
    number as ``left_out`` beside the subclass's metrics, and logs their
    paths.

    Subclasses implement :meth:`process_kept` and :meth:`compute_kept`,
    the kept-sample counterparts of MMEngine's ``process`` and
    ``compute_metrics``.
    """

    def process(self, data_batch: Any, data_samples: Sequence) -> None:
        for sample in data_batch['data_samples']:
            if 'left_out' in sample.metainfo:
                self.results.append({'left_out': sample.left_out})
        self.process_kept(data_batch, data_samples)

    def compute_metrics(self, results: List) -> Dict[str, float]:
        left_out = [
            r['left_out'] for r in results
            if isinstance(r, dict) and 'left_out' in r
        ]
        kept = [
            r for r in results if not (isinstance(r, dict) and 'left_out' in r)
        ]
        metrics = self.compute_kept(kept)
        metrics['left_out'] = len(left_out)
        if left_out:
            print_log(
                f'{self.__class__.__name__}: {len(left_out)} samples left '
                f'out of the evaluation: {sorted(left_out)}',
                logger='current',
                level=logging.WARNING)
        return metrics

    @abstractmethod
    def process_kept(self, data_batch: Any, data_samples: Sequence) -> None:
        """Add the results of the kept samples' outputs to ``self.results``.
        """

    @abstractmethod
    def compute_kept(self, results: List) -> Dict[str, float]:
        """Compute the metrics from the kept samples' results."""
