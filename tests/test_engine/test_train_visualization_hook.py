"""TrainVisualizationHook: the panels it logs, and that it leaves the random
numbers of training alone."""
from types import SimpleNamespace

import numpy as np
import torch

from alpro.engine.hooks import TrainVisualizationHook
from tests.test_models.test_algorithms.test_alpro_pretrainer import (batch,
                                                                     build)


class ImageRecorder:
    """Stands in for the Runner's visualiser: keeps what is added."""

    def __init__(self) -> None:
        self.images = {}

    def add_image(self, name: str, image: np.ndarray, step: int) -> None:
        self.images[name] = (image, step)


def test_panels_logged_and_training_rng_untouched(tokenizer_dir, stage_one):
    torch.manual_seed(0)
    model = build(tokenizer_dir, stage_one)
    model.prompter.build_cache()
    runner = SimpleNamespace(model=model, iter=1, visualizer=ImageRecorder())
    hook = TrainVisualizationHook(interval=2, num_samples=3)
    state = torch.get_rng_state()
    hook.after_train_iter(runner, 1, data_batch=batch(), outputs={})
    # iteration 2 of 2: both panels, 3 clips each, at step 2
    assert set(runner.visualizer.images) == {'train/clips', 'train/pem'}
    for image, step in runner.visualizer.images.values():
        assert step == 2 and image.ndim == 3 and image.shape[2] == 3
    # its MLM masks and PEM regions were drawn from a forked generator
    assert torch.equal(torch.get_rng_state(), state)
    # not at the other iterations
    runner.iter, runner.visualizer = 2, ImageRecorder()
    hook.after_train_iter(runner, 2, data_batch=batch(), outputs={})
    assert runner.visualizer.images == {}
