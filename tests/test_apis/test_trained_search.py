"""After a few training steps on eight demo clips, the search API ranks
each clip near the top for its caption among every video of the demo
corpus: the inferencer ranks what the model learned, not noise."""
import copy

import torch
from mmengine.dataset import pseudo_collate

from alpro.apis import TextToVideoRetrievalInferencer
from alpro.registry import DATASETS


def _train(model, samples, steps: int) -> None:
    """``steps`` of VTC on one batch of ``samples``."""
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batch = pseudo_collate(samples)
    for _ in range(steps):
        data = model.data_preprocessor(copy.deepcopy(batch), True)
        losses = model(**data, mode='loss')
        loss = losses['loss_vtc']
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()


def test_a_trained_model_finds_each_clip_from_its_caption(
        retrieval_model, demo_corpus):
    torch.manual_seed(0)
    cfg = copy.deepcopy(retrieval_model.cfg.test_dataloader.dataset)
    cfg.update(ann_file='data/demo/annotations/results_demo_train.csv')
    dataset = DATASETS.build(cfg)
    samples = [dataset[i] for i in range(8)]
    _train(retrieval_model, samples, steps=200)
    search = TextToVideoRetrievalInferencer(
        retrieval_model,
        demo_corpus / 'data/demo/videos',
        batch_size=8,
        num_workers=0,
        show_progress=False)
    assert len(search.paths) == 24
    captions = [s['data_samples'].text for s in samples]
    videos = [
        str((demo_corpus / s['data_samples'].video_path).resolve())
        for s in samples
    ]
    ranks = [[hit['path'] for hit in hits].index(video) for video, hits in zip(
        videos, search(captions, top_k=len(search.paths)))]
    # By chance a clip is in the top 8 of 24 one time in three (all eight:
    # 1.5e-4) and the mean 0-based rank is 11.5. The 16 other clips were
    # never seen in training, and where they land moves with the machine's
    # kernels: with torch's default, single-threaded, AVX-only MKL and
    # non-vectorised kernels on one AVX2 machine the worst rank was 2 to 5
    # and the mean 0.9 to 1.4 (a top-5 test failed on one of them).
    assert max(ranks) < 8, ranks
    assert sum(ranks) / len(ranks) <= 3, ranks
