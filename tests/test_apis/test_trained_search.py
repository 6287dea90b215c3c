"""After a few training steps on eight demo clips, the search API finds
each clip from its caption among every video of the demo corpus: the
inferencer ranks what the model learned, not noise."""
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
    # 100 steps found 8 of 8 clips on one 2-core machine and 7 of 8 on an
    # AVX2 one (another summation order); 200 find all 8 on both
    _train(retrieval_model, samples, steps=200)
    search = TextToVideoRetrievalInferencer(
        retrieval_model,
        demo_corpus / 'data/demo/videos',
        batch_size=8,
        num_workers=0,
        show_progress=False)
    assert len(search.paths) == 24  # chance of a clip in the top 5: 5/24
    captions = [s['data_samples'].text for s in samples]
    videos = [s['data_samples'].video_path for s in samples]
    found = [[hit['path'] for hit in hits]
             for hits in search(captions, top_k=5)]
    assert all(
        str((demo_corpus / video).resolve()) in hits
        for video, hits in zip(videos, found))
