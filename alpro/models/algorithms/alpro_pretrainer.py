"""ALPRO stage 2: VTC, VTM with hard negatives, MLM and prompting entity
modeling (PEM) with a frozen entity prompter."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from alpro.models.text_encoders.contract import check_text_encoder
from alpro.registry import HEADS, MODELS, PROMPTERS
from alpro.structures import VideoTextDataSample
from .base_video_text_model import BaseVideoTextModel
from .fusion_batch import FusionBatch
from .task_inputs import check_task_inputs

__all__ = ['AlproPretrainer']

TASKS = ('vtc', 'vtm', 'mlm', 'pem')


@MODELS.register_module()
class AlproPretrainer(BaseVideoTextModel):
    """The ALPRO pre-training model (paper section 3).

    A video encoder and the text layers of BERT embed the pair; the last
    BERT layers fuse ``[text ; video]``. Four tasks, each switchable, each
    a head that owns its loss (``alpro.models.heads``):

    * ``vtc`` (:class:`~alpro.models.heads.VTCHead`): video-text
      contrastive loss on the two [CLS] projections;
    * ``vtm`` (:class:`~alpro.models.heads.VTMHead`): video-text matching
      on the fusion [CLS], with negative videos per text and negative texts
      per video (one each in ALPRO) from the local batch, drawn by the
      head's sampler (ALPRO's hard negatives from softmax(VTC similarity)
      by default; true matches never drawn);
    * ``mlm`` (:class:`~alpro.models.heads.MLMHead`): masked language
      modeling from the fusion outputs of the text part (masks from
      ``AlproPretrainDataPreprocessor``);
    * ``pem`` (:class:`~alpro.models.heads.PEMHead`): prompting entity
      modeling: the frozen entity prompter scores a random region of each
      clip against every entity prompt (soft pseudo-labels, dropped under
      its threshold); the head mean-pools the fusion outputs over that
      region's video tokens (the positive-pair fusion pass of VTM is
      reused) and predicts the entity distribution (soft cross-entropy).

    Order-aware objective (``order_negatives``, off by default): pairs
    made wrong by time (:class:`~alpro.models.samplers.OrderNegatives`):
    each clip's own frames time-reversed, one more negative video of its
    caption, and each caption with its direction words swapped, one more
    negative text of its clip; in VTC (an extra logit) and in VTM (extra
    unmatched pairs). Reversed clips go through the video encoder too: its
    cost doubles.

    Args:
        backbone: ``BACKBONES`` config, output ``(B, 1 + N, Dv)``.
        text_encoder: ``TEXT_ENCODERS`` config with fusion layers.
        prompter: ``PROMPTERS`` config of the entity prompter (for PEM).
        tasks: the tasks on. Their inputs must come from the data
            preprocessor (``mlm``: ``mlm_probability`` > 0, ``pem``: ``pem``
            regions on the backbone's ``patch_size``), which is checked
            when the model is built
            (:func:`~alpro.models.algorithms.task_inputs.check_task_inputs`).
        loss_weights: weight of each task's loss (default 1).
        vtc_head / vtm_head / mlm_head / pem_head: ``HEADS`` configs;
            their sizes are filled in from the encoders and the prompter
            (the VTC head is built whatever the tasks: VTM draws its
            negatives from its similarities).
        order_negatives: ``None`` (off) or the arguments of
            :class:`~alpro.models.samplers.OrderNegatives` (``dict()``:
            reversed clips for every caption, in VTC and VTM).
        embed_dim: width of the contrastive space (256 in ALPRO).
        test_clips: clips averaged per video at evaluation
            (:meth:`~BaseVideoTextModel.backbone_tokens`).
        data_preprocessor: ``MODELS`` config.
        init_cfg: MMEngine's initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 text_encoder: dict,
                 prompter: Optional[dict] = None,
                 tasks: Sequence[str] = TASKS,
                 loss_weights: Optional[Dict[str, float]] = None,
                 vtc_head: dict = dict(type='VTCHead'),
                 vtm_head: dict = dict(type='VTMHead'),
                 mlm_head: dict = dict(type='MLMHead'),
                 pem_head: dict = dict(type='PEMHead'),
                 order_negatives: Optional[dict] = None,
                 embed_dim: int = 256,
                 test_clips: int = 1,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            backbone,
            text_encoder,
            data_preprocessor,
            init_cfg,
            embed_dim=embed_dim,
            test_clips=test_clips)
        unknown = set(tasks) - set(TASKS)
        if unknown or not tasks:
            raise ValueError(f'tasks must be a non-empty subset of {TASKS}, '
                             f'got {tuple(tasks)}')
        self.tasks = tuple(tasks)
        check_task_inputs(self.tasks, self.data_preprocessor, self.backbone,
                          type(self).__name__)
        self.loss_weights = {t: 1.0 for t in TASKS}
        self.loss_weights.update(loss_weights or {})
        width = self.text_encoder.hidden_size
        self.vtc_head = HEADS.build(vtc_head)
        if 'vtm' in self.tasks:
            self.vtm_head = HEADS.build(dict(vtm_head, in_dims=width))
        self.order_negatives = self.build_order_negatives(
            order_negatives, self.tasks)
        if 'mlm' in self.tasks:
            check_text_encoder(self.text_encoder,
                               type(self).__name__, self.tasks)
            self.mlm_head = HEADS.build(
                dict(
                    mlm_head,
                    hidden_size=width,
                    vocab_size=self.text_encoder.vocab_size,
                    layer_norm_eps=self.text_encoder.layer_norm_eps))
            self.mlm_head.tie_weights(self.text_encoder.word_embeddings)
        if 'pem' in self.tasks:
            if prompter is None:
                raise ValueError('the pem task needs an entity prompter')
            self.prompter = PROMPTERS.build(prompter)
            self.pem_head = HEADS.build(
                dict(
                    pem_head,
                    in_dims=width,
                    num_entities=self.prompter.num_classes))

    # -- the tasks ----------------------------------------------------------
    def true_matches(self, inputs: Dict[str, torch.Tensor]) -> torch.Tensor:
        """``(B, B)`` bool: video ``i`` and text ``j`` match, i.e. the same
        caption (equal token ids) or the same video (``video_group``, from
        the samples' ``video_id``, when the preprocessor gives it)."""
        ids = inputs['text_ids']
        same = (ids.unsqueeze(1) == ids.unsqueeze(0)).all(-1)
        group = inputs.get('video_group')
        if group is not None:
            same = same | (group.unsqueeze(1) == group.unsqueeze(0))
        return same

    def draw_negatives(
            self,
            sim_v2t: torch.Tensor,
            sim_t2v: torch.Tensor,
            true_match: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, ...]:
        """VTM's negatives from the local batch: the local block of the VTC
        logits (this rank's columns) handed to
        :meth:`~alpro.models.heads.VTMHead.sample_negatives`.

        Args:
            sim_v2t / sim_t2v: ``(B, W * B)`` logits of the VTC head.
            true_match: ``(B, B)`` bool pairs never drawn
                (:meth:`true_matches`); ``None``: the positives only.

        Returns:
            ``neg_text``, ``neg_video``, ``has_text``, ``has_video``, each
            ``(K * B,)`` (:meth:`VTMHead.sample_negatives`).
        """
        batch = sim_v2t.size(0)
        local = self.vtc_head.positive_index(batch, sim_v2t.device)
        if true_match is None:
            true_match = torch.eye(
                batch, dtype=torch.bool, device=sim_v2t.device)
        return self.vtm_head.sample_negatives(
            sim_v2t[:, local], sim_t2v[:, local], true_match,
            self.vtc_head.clamped_temperature())

    def score_pairs(self,
                    video_tokens: torch.Tensor,
                    text_tokens: torch.Tensor,
                    text_mask: torch.Tensor,
                    score: str = 'vtm_prob') -> torch.Tensor:
        """The VTM score of P (video, text) pairs, fused in one pass.

        Args:
            video_tokens: ``(P, 1 + N, D)`` from :meth:`encode_video`.
            text_tokens: ``(P, L, D)`` from :meth:`encode_text`.
            text_mask: ``(P, L)``.
            score: ``'vtm_prob'`` or ``'vtm_logit'``
                (:meth:`~alpro.models.heads.VTMHead.predict`).

        Returns:
            ``(P,)`` float32.
        """
        fused = self.fuse(video_tokens, text_tokens, text_mask)
        return self.vtm_head.predict(fused[:, 0], score)

    def pem(self, inputs: Dict[str, torch.Tensor],
            fused: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The PEM head's loss and logs from the positives' fusion outputs
        ``(B, L + 1 + N, D)`` and the prompter's pseudo-labels."""
        probs, keep = self.prompter.pseudo_labels(inputs['pem_crop'],
                                                  inputs.get('is_image'))
        return self.pem_head.loss(fused, inputs['text_mask'].size(1),
                                  inputs['pem_region'], probs, keep)

    # -- the BaseModel interface --------------------------------------------
    def loss(self, inputs: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Every switched-on task's weighted loss plus what is logged.

        The caption and its MLM-masked (and direction-swapped) copies go
        through the text layers in one batch, and every pair the tasks fuse
        (B positives for VTM and PEM, 2KB hard negatives, B reversed clips and
        B swapped captions with the order negatives, B masked captions)
        goes through the fusion layers in one batch (:class:`FusionBatch`):
        the same arithmetic as separate passes, a fraction of the kernel
        launches.
        """
        text_ids, text_mask = inputs['text_ids'], inputs['text_mask']
        batch, length = text_ids.shape
        order = self.order_negatives
        reverse = order is not None and order.reverse_clips
        swap = order is not None and order.swap_captions
        video_tokens, video_feat = self.encode_video(inputs['video'])
        # the captions and their masked and swapped copies through the text
        # layers in one batch (encode_text's first half; project_text, its
        # second, for the captions)
        texts = dict(captions=text_ids)
        if 'mlm' in self.tasks:
            texts['masked'] = inputs['mlm_text_ids']
        if swap:
            texts['swapped'], swapped_valid = order.swap(text_ids)
        encoded = dict(
            zip(
                texts,
                self.text_encoder.encode_text(
                    torch.cat(list(texts.values())),
                    text_mask.repeat(len(texts), 1)).split(batch)))
        text_tokens = encoded['captions']
        text_feat = self.project_text(text_tokens)
        sim_v2t, sim_t2v = self.vtc_head(video_feat, text_feat)
        out = dict(temperature=self.vtc_head.temp.detach())
        if reverse:
            # each clip's frames reversed: one more negative of its caption
            reversed_tokens, reversed_feat = self.encode_video(
                inputs['video'].flip(2))
            reversed_valid = order.reversed_valid(text_ids,
                                                  inputs.get('is_image'))
        if 'vtc' in self.tasks:
            v2t, t2v = sim_v2t, sim_t2v
            if order is not None and order.vtc:
                v2t, t2v = order.vtc_logits(
                    sim_v2t,
                    sim_t2v,
                    video_feat,
                    text_feat,
                    self.vtc_head.clamped_temperature(),
                    reversed_clips=(reversed_feat,
                                    reversed_valid) if reverse else None,
                    swapped_captions=(self.project_text(encoded['swapped']),
                                      swapped_valid) if swap else None)
            out.update(self.vtc_head.loss(v2t, t2v))

        pairs = FusionBatch()
        vtm = 'vtm' in self.tasks and batch > 1
        if vtm or 'pem' in self.tasks:
            pairs.add('positives', text_tokens, text_mask, video_tokens)
        # VTM's negative groups: name -> (valid, holds negative texts)
        negatives = {}
        if vtm:
            neg_text, neg_video, has_text, has_video = self.draw_negatives(
                sim_v2t, sim_t2v, self.true_matches(inputs))
            draws = neg_text.size(0) // batch
            pairs.add('negative_videos', text_tokens.repeat(draws, 1, 1),
                      text_mask.repeat(draws, 1), video_tokens[neg_video])
            pairs.add('negative_texts', text_tokens[neg_text],
                      text_mask[neg_text], video_tokens.repeat(draws, 1, 1))
            negatives.update(
                negative_videos=(has_video, False),
                negative_texts=(has_text, True))
            if order is not None and order.vtm and reverse:
                pairs.add('reversed_clips', text_tokens, text_mask,
                          reversed_tokens)
                negatives['reversed_clips'] = (reversed_valid, False)
            if order is not None and order.vtm and swap:
                pairs.add('swapped_captions', encoded['swapped'], text_mask,
                          video_tokens)
                negatives['swapped_captions'] = (swapped_valid, True)
        if 'mlm' in self.tasks:
            pairs.add('masked', encoded['masked'], text_mask, video_tokens)
        fused = pairs.fuse(self.fuse) if pairs else {}
        if vtm:
            neg_valid = torch.cat([valid for valid, _ in negatives.values()])
            neg_is_text = [
                is_text for name, (valid, is_text) in negatives.items()
                for _ in range(valid.numel() // batch)
            ]
            out.update(
                self.vtm_head.loss(
                    fused['positives'][:, 0],
                    torch.cat([fused[name][:, 0] for name in negatives]),
                    neg_valid, neg_is_text))
            out['vtm_negatives_left_out'] = 1 - neg_valid.float().mean()
        if 'mlm' in self.tasks:
            out.update(
                self.mlm_head.loss(fused['masked'][:, :length],
                                   inputs['mlm_labels']))
        if 'pem' in self.tasks:
            out.update(self.pem(inputs, fused['positives']))
        for task in TASKS:
            if f'loss_{task}' in out:
                out[f'loss_{task}'] = out[f'loss_{task}'] * \
                    self.loss_weights[task]
        return out

    def forward(self,
                inputs: Dict[str, torch.Tensor],
                data_samples: Optional[List[VideoTextDataSample]] = None,
                mode: str = 'tensor'):
        """``'loss'``: the losses; ``'predict'``: the data samples with
        ``video_embed`` and ``text_embed`` (zero-shot retrieval);
        ``'tensor'``: the two ``(B, embed_dim)`` contrastive features."""
        if mode == 'loss':
            if 'vtm' in self.tasks:
                self.vtm_head.negatives.start_iteration()
            return self.loss(inputs)
        return self.embedding_outputs(mode, inputs, data_samples)

    @torch.no_grad()
    def pem_predictions(
            self,
            inputs: Dict[str,
                         torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """The prompter's pseudo-labels and the model's entity
        probabilities ``(B, E)`` for the regions of ``inputs`` (for the
        visualisation panels)."""
        video_tokens, _ = self.encode_video(inputs['video'])
        text_tokens, _ = self.encode_text(inputs['text_ids'],
                                          inputs['text_mask'])
        fused = self.fuse(video_tokens, text_tokens, inputs['text_mask'])
        probs, _ = self.prompter.pseudo_labels(inputs['pem_crop'],
                                               inputs.get('is_image'))
        logits = self.pem_head.region_logits(fused,
                                             inputs['text_mask'].size(1),
                                             inputs['pem_region'])
        return probs, logits.float().softmax(-1)
