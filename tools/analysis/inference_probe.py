"""The inference API (``alpro.apis``) on a trained retrieval model and a
trained QA model: how often a held-out caption finds its video in the top
5 of a search over the held-out videos, how fast the gallery is embedded,
and whether the QA answers are those of ``tools/test.py``'s path.

* search: ``TextToVideoRetrievalInferencer`` over the videos of the
  retrieval config's test annotation file, every caption of it as a query;
  the fraction whose own video is in the top 5, by VTC, with the top 16
  re-scored by VTM (the config's ``score``) and with every pair re-scored
  (the evaluation's protocol: ``tools/test.py``'s ``t2v_r5``);
* speed: videos/s of building that gallery (decode, test pipeline, data
  preprocessor, ``encode_video``; no cache) with each ``--workers`` value;
* QA: ``VideoQAInferencer`` on every (video, question) of the QA config's
  test split against the predictions of the test loop that
  ``tools/test.py`` runs (``ToolRunner.test()``, the metric's inputs read).

Usage (after tools/demo.sh):
  python tools/analysis/inference_probe.py \\
      configs/demo/finetune_msrvtt_ret.py \\
      work_dirs/finetune_msrvtt_ret/epoch_6.pth \\
      configs/demo/finetune_msrvtt_qa.py \\
      work_dirs/finetune_msrvtt_qa/epoch_12.pth [--workers 0 2] [--out F]
"""
import argparse
import json
import os
import tempfile
import time

import torch
from mmengine.config import Config

from alpro.apis import (TextToVideoRetrievalInferencer, VideoQAInferencer,
                        init_model)
from alpro.registry import DATASETS
from alpro.utils.cli import ToolRunner


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='retrieval config')
    parser.add_argument('checkpoint', help='retrieval checkpoint')
    parser.add_argument('qa_config', help='video QA config')
    parser.add_argument('qa_checkpoint', help='video QA checkpoint')
    parser.add_argument('--workers', type=int, nargs='+', default=[0, 2])
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--rerank-k', type=int, default=16)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', help='write the figures as JSON here')
    return parser.parse_args(argv)


def test_infos(cfg: Config) -> list:
    """The data infos of the config's test dataset (no decoding)."""
    dataset = DATASETS.build(dict(cfg.test_dataloader.dataset, pipeline=[]))
    return [dataset.get_data_info(i) for i in range(len(dataset))]


def search_figures(args) -> dict:
    model = init_model(args.config, args.checkpoint, args.device)
    ann_file = model.cfg.test_dataloader.dataset.ann_file
    infos = test_infos(model.cfg)
    figures = dict(captions=len(infos))
    search = None
    for workers in args.workers:
        start = time.perf_counter()
        search = TextToVideoRetrievalInferencer(
            model,
            ann_file,
            batch_size=args.batch_size,
            num_workers=workers,
            show_progress=False)
        seconds = time.perf_counter() - start
        figures[f'videos_per_s_workers_{workers}'] = len(
            search.paths) / seconds
    figures['videos'] = len(search.paths)
    figures['skipped'] = len(search.skipped)
    captions = [i['text'] for i in infos]
    own = [os.path.abspath(i['video_path']) for i in infos]
    # every pair re-scored: the evaluation's rerank_k='all', so top5_vtm_all
    # is tools/test.py's t2v_r5 for the config's score
    policies = (('vtc', None), (f'vtm_top{args.rerank_k}', args.rerank_k),
                ('vtm_all', len(search.paths)))
    for name, rerank_k in policies:
        start = time.perf_counter()
        results = search(captions, top_k=5, rerank_k=rerank_k)
        figures[f'query_ms_{name}'] = 1e3 * (time.perf_counter() -
                                             start) / len(captions)
        found = [
            any(h['path'] == video for h in hits)
            for hits, video in zip(results, own)
        ]
        figures[f'top5_{name}'] = sum(found) / len(found)
    return figures


def qa_figures(args) -> dict:
    cfg = Config.fromfile(args.qa_config)
    cfg.load_from = args.qa_checkpoint
    cfg.work_dir = tempfile.mkdtemp(prefix='inference_probe_')
    runner = ToolRunner.from_cfg(cfg)
    labels = {}
    metric = runner.test_loop.evaluator.metrics[0]
    process_kept = metric.process_kept

    def keep_labels(data_batch, data_samples):
        labels.update(
            (s['sample_idx'], int(s['pred_label'])) for s in data_samples)
        return process_kept(data_batch, data_samples)

    metric.process_kept = keep_labels
    metrics = runner.test()
    model = init_model(args.qa_config, args.qa_checkpoint, args.device)
    qa = VideoQAInferencer(model, batch_size=args.batch_size)
    infos = test_infos(model.cfg)
    answers = qa([i['video_path'] for i in infos], [i['text'] for i in infos])
    same = [
        a['answer'] == qa.answers[labels[i['sample_idx']]]
        for a, i in zip(answers, infos)
    ]
    right = [a['answer'] == i.get('answer') for a, i in zip(answers, infos)]
    return dict(
        qa_pairs=len(infos),
        qa_same_as_test_loop=sum(same) / len(same),
        qa_accuracy_api=sum(right) / len(right),
        qa_test_metrics={
            k: float(v)
            for k, v in metrics.items()
        })


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.manual_seed(0)
    figures = search_figures(args)
    figures.update(qa_figures(args))
    print(json.dumps(figures, indent=1))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(figures, f, indent=1)
    return figures


if __name__ == '__main__':
    main()
