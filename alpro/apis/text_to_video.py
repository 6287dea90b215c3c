"""Search a gallery of videos by text: VTC over cached embeddings, an
optional VTM re-ranking of the top videos."""
import copy
import logging
import os
from pathlib import Path
from typing import List, Optional, Sequence, Union

import torch
from mmengine.logging import print_log
from torch import nn

from alpro.registry import DATASETS
from .gallery_cache import GalleryCache, file_stamp, model_fingerprint
from .ranking import check_retrieval_model, encode_texts, encode_videos
from .vector_index import INDEX_KINDS, build_index
from .video_loader import VIDEO_EXTENSIONS, autocast, find_videos

__all__ = ['TextToVideoRetrievalInferencer', 'gallery_paths']

Gallery = Union[str, Path, Sequence[Union[str, Path]]]


def _dataset_videos(model: nn.Module, ann_file: str) -> List[str]:
    """The videos of an annotation file, read by the model's test dataset
    type with ``ann_file`` swapped in, in first-seen order."""
    cfg = copy.deepcopy(model.cfg.test_dataloader.dataset)
    cfg.update(ann_file=ann_file, test_mode=True, pipeline=[])
    dataset = DATASETS.build(cfg)
    paths = {}
    for idx in range(len(dataset)):
        path = dataset.get_data_info(idx).get('video_path')
        if path is not None:
            paths.setdefault(os.path.abspath(path), None)
    return list(paths)


def gallery_paths(model: nn.Module, gallery: Gallery) -> List[str]:
    """The videos of a gallery: a folder (searched recursively), a list of
    files, or an annotation file the model's test dataset reads; absolute
    paths."""
    if isinstance(gallery, (str, Path)):
        path = Path(gallery)
        if path.is_dir():
            return find_videos(path)
        if not path.is_file():
            raise FileNotFoundError(
                f'gallery {path} is neither a folder of videos nor a file')
        if path.suffix.lower() in VIDEO_EXTENSIONS:
            return [str(path.absolute())]
        return _dataset_videos(model, str(path))
    return [os.path.abspath(p) for p in gallery]


class TextToVideoRetrievalInferencer:
    """Rank a gallery of videos for text queries with a retrieval model.

    The gallery's VTC embeddings are computed in batches through the
    model's test pipeline and data preprocessor (as the evaluation does)
    and kept in ``cache``, if given: a later run embeds only new or changed
    files (size or mtime), drops deleted ones and reuses the rest; a cache
    of another model (weights fingerprint) or test pipeline is rebuilt.
    Files that cannot be decoded are listed in :attr:`skipped`.

    Attributes:
        paths: the usable videos, in gallery order.
        skipped: ``(path, one-line reason)`` of the unusable ones.
        stats: ``embedded``, ``reused``, ``dropped`` and ``skipped`` counts
            of the last build.
        embeddings: ``(N, E)`` float32, normalised, on the model's device.
        clips: ``(start_s, end_s)`` of each video's sampled frames.

    Args:
        model: a retrieval model from :func:`~alpro.apis.init_model`
            (``encode_video``, ``encode_text``, ``rank``; ``model.cfg``).
        gallery: a folder, a list of files or an annotation file; None:
            the cache's videos as they are (the cache must exist).
        cache: the cache's name (``<cache>.safetensors`` and
            ``<cache>.json``); None: embed in memory only.
        batch_size: videos per forward pass.
        num_workers: data-loader worker processes decoding videos.
        amp: bfloat16 autocast on CUDA.
        index: the VTC search (:func:`~alpro.apis.vector_index.build_index`):
            ``'exact'`` (torch, one matrix product), ``'faiss'`` (FAISS
            flat, exact) or an approximate FAISS kind, ``'ivf'`` or
            ``'hnsw'`` (``pip install -e ".[faiss]"``).
        show_progress: a progress bar while embedding.
        checkpoint: the checkpoint file of ``model``, recorded (absolute,
            as the config file) in the cache so that a tool can rebuild the
            model from it.
    """

    def __init__(self,
                 model: nn.Module,
                 gallery: Optional[Gallery] = None,
                 cache: Optional[Union[str, Path]] = None,
                 *,
                 batch_size: int = 8,
                 num_workers: int = 2,
                 amp: bool = False,
                 index: str = 'exact',
                 show_progress: bool = True,
                 checkpoint: Optional[Union[str, Path]] = None) -> None:
        check_retrieval_model(model)
        if index not in INDEX_KINDS:
            raise ValueError(
                f'index must be one of {INDEX_KINDS}, got {index!r}')
        if gallery is None and cache is None:
            raise ValueError('give a gallery, a cache or both')
        self.model = model
        self.index = index
        self.amp = amp
        self.loader_args = dict(batch_size=batch_size, num_workers=num_workers)
        cfg = getattr(model, 'cfg', None)
        config = getattr(cfg, 'filename', None)
        meta = dict(
            config=config and os.path.abspath(config),
            checkpoint=checkpoint and os.path.abspath(checkpoint),
            fingerprint=model_fingerprint(model))
        old = None if cache is None else GalleryCache.load(cache)
        if old is not None and old.meta.get(
                'fingerprint') != meta['fingerprint']:
            message = (f'cache {cache} was built with another model or test '
                       f'pipeline (config {old.meta.get("config")}, '
                       f'checkpoint {old.meta.get("checkpoint")})')
            if gallery is None:
                raise ValueError(f'{message}; give the gallery to rebuild it'
                                 ' or use that model')
            print_log(
                f'{message}: rebuilding it',
                logger='current',
                level=logging.WARNING)
            old = None
        if gallery is None:
            if old is None:
                raise FileNotFoundError(
                    f'no cache at {cache}: give a gallery to build it')
            self._use(old)
            self.stats = dict(
                embedded=0,
                reused=len(old.entries),
                dropped=0,
                skipped=len(old.skipped))
            return
        new = self._build(
            gallery_paths(model, gallery), old or GalleryCache(),
            show_progress)
        new.meta = meta
        if cache is not None:
            new.save(cache)
        self._use(new)

    def _use(self, cache: GalleryCache) -> None:
        device = next(self.model.parameters()).device
        self.cache = cache
        self.paths = [e['path'] for e in cache.entries]
        self.clips = [tuple(e['clip']) for e in cache.entries]
        self.skipped = [(s['path'], s['reason']) for s in cache.skipped]
        self.embeddings = None if cache.embeddings is None else (
            cache.embeddings.to(device))
        self._index = None if self.embeddings is None else build_index(
            self.embeddings, self.index)

    def _build(self, paths: List[str], old: GalleryCache,
               show_progress: bool) -> GalleryCache:
        """The cache of ``paths``: ``old``'s rows for unchanged files, the
        others embedded; sets :attr:`stats`."""
        rows = {e['path']: i for i, e in enumerate(old.entries)}
        bad = {s['path']: s for s in old.skipped}
        stamps = {p: file_stamp(p) for p in dict.fromkeys(paths)}

        def unchanged(record: dict) -> bool:
            stamp = stamps.get(record['path'])
            return stamp is not None and stamp == (record.get('size'),
                                                   record.get('mtime_ns'))

        todo = [
            p for p in stamps
            if not unchanged(old.entries[rows[p]] if p in
                             rows else bad.get(p, dict(path=p)))
        ]
        indices, _, embed, clips, skipped = encode_videos(
            self.model,
            todo,
            self.amp,
            show_progress=show_progress and bool(todo),
            **self.loader_args)
        fresh = {todo[i]: (embed[j], clips[j]) for j, i in enumerate(indices)}
        reasons = dict(skipped)
        entries, vectors, skipped_records = [], [], []
        for path, stamp in stamps.items():
            if path in fresh or (path in rows and path not in reasons):
                vector, clip = fresh[path] if path in fresh else (
                    old.embeddings[rows[path]],
                    old.entries[rows[path]]['clip'])
                entries.append(
                    dict(
                        path=path,
                        size=stamp[0],
                        mtime_ns=stamp[1],
                        clip=tuple(clip)))
                vectors.append(vector.cpu())
            else:
                record = dict(path=path, reason=reasons.get(path))
                if record['reason'] is None:
                    record = bad[path]
                elif stamp is not None:
                    record.update(size=stamp[0], mtime_ns=stamp[1])
                skipped_records.append(record)
        for path, reason in skipped:
            print_log(
                f'gallery: skipped {path} ({reason})',
                logger='current',
                level=logging.WARNING)
        self.stats = dict(
            embedded=len(fresh),
            reused=len(entries) - len(fresh),
            dropped=len(set(rows) - set(stamps)),
            skipped=len(skipped_records))
        return GalleryCache(
            torch.stack(vectors) if vectors else None, entries,
            skipped_records)

    @torch.no_grad()
    def __call__(self,
                 queries: Union[str, Sequence[str]],
                 top_k: int = 5,
                 rerank_k: Optional[int] = None,
                 score: Optional[str] = None) -> List[List[dict]]:
        """The best ``top_k`` videos of each query.

        Args:
            queries: one text or several.
            top_k: hits per query.
            rerank_k: None: VTC order (``score`` is the VTC similarity);
                K: the top K videos by VTC are decoded again and re-scored
                by ``model.rank`` (the evaluation's VTM re-scoring, on
                those videos), the rest follow in VTC order below them.
            score: ``'vtm_prob'`` or ``'vtm_logit+vtc'``; None: the model's.

        Returns:
            per query, ``top_k`` hits best first: ``rank``, ``path``,
            ``score``, ``vtc``, ``clip`` ``(start_s, end_s)``.
        """
        if isinstance(queries, str):
            queries = [queries]
        if self.embeddings is None or not queries:
            return [[] for _ in queries]
        text_tokens, text_mask, text_embed = encode_texts(
            self.model, queries, self.amp)
        if rerank_k is not None and (not isinstance(rerank_k, int)
                                     or rerank_k < 1):
            raise ValueError(
                f'rerank_k must be None or a positive int, got {rerank_k!r}')
        depth = top_k if rerank_k is None else max(top_k, rerank_k)
        sims, candidates = (t.cpu() for t in self._search(text_embed, depth))
        if rerank_k is None:
            ranked = [(row, sim, sim) for row, sim in zip(candidates, sims)]
        else:
            ranked = self._rerank(candidates, sims, text_tokens, text_mask,
                                  text_embed, rerank_k, score)
        return [[
            dict(
                rank=r + 1,
                path=self.paths[v],
                score=float(s),
                vtc=float(c),
                clip=self.clips[v])
            for r, (v, s, c) in enumerate(zip(*(t.tolist() for t in hit)))
        ][:top_k] for hit in ranked]

    def _search(self, queries: torch.Tensor, k: int):
        """The VTC search over the gallery (``index``)."""
        return self._index.search(queries, k)

    def _rerank(self, candidates, sims, text_tokens, text_mask, text_embed,
                rerank_k, score) -> List[tuple]:
        """Re-score each query's candidates with ``model.rank`` (its top
        ``rerank_k`` by VTC scored with VTM); ``(videos, scores, vtc)`` per
        query, best first."""
        needed = sorted(set(candidates.flatten().tolist()))
        indices, tokens, embed, _, skipped = encode_videos(
            self.model, [self.paths[i] for i in needed], self.amp,
            **self.loader_args)
        if skipped:
            raise RuntimeError(
                f'cannot decode {skipped[0][0]} again ({skipped[0][1]}); '
                'the gallery changed since it was embedded: rebuild it')
        column = {needed[i]: j for j, i in enumerate(indices)}
        ranked = []
        for q, videos in enumerate(candidates.tolist()):
            rows = torch.tensor([column[v] for v in videos])
            with autocast(self.model, self.amp):
                scores = self.model.rank(
                    tokens[rows],
                    embed[rows],
                    text_tokens[q:q + 1],
                    text_mask[q:q + 1],
                    text_embed[q:q + 1],
                    rerank_k=rerank_k,
                    score=score)[0].float().cpu()
            order = scores.argsort(descending=True, stable=True)
            ranked.append(
                (candidates[q][order], scores[order], sims[q][order]))
        return ranked
