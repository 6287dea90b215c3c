"""ALPRO stage 2: VTC, VTM with hard negatives, MLM and prompting entity
modeling (PEM) with a frozen entity prompter."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from alpro.registry import HEADS, LOSSES, MODELS, PROMPTERS
from alpro.structures import VideoTextDataSample
from .base_video_text_model import BaseVideoTextModel
from .task_inputs import check_task_inputs

__all__ = ['AlproPretrainer']

TASKS = ('vtc', 'vtm', 'mlm', 'pem')


@MODELS.register_module()
class AlproPretrainer(BaseVideoTextModel):
    """The ALPRO pre-training model (paper section 3).

    A video encoder and the text layers of BERT embed the pair; the last
    BERT layers fuse ``[text ; video]``. Four tasks, each switchable:

    * ``vtc``: video-text contrastive loss on the two [CLS] projections;
    * ``vtm``: video-text matching on the fusion [CLS], with negative
      videos per text and negative texts per video (one each in ALPRO) from
      the local batch, drawn by ``vtm_negatives`` (ALPRO's hard negatives from
      softmax(VTC similarity) by default; true matches never drawn);
    * ``mlm``: masked language modeling from the fusion outputs of the text
      part (masks from ``AlproPretrainDataPreprocessor``);
    * ``pem``: prompting entity modeling: the frozen entity prompter scores
      a random region of each clip against every entity prompt (soft
      pseudo-labels, dropped under its threshold); the model mean-pools its
      fusion outputs over that region's video tokens (the positive-pair
      fusion pass of VTM is reused) and a head predicts the entity
      distribution (soft cross-entropy).

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
        vtc_loss: ``LOSSES`` config.
        vtm_head / mlm_head / pem_head: ``HEADS`` configs; their sizes are
            filled in from the encoders and the prompter.
        pem_loss: ``LOSSES`` config of the soft cross-entropy.
        vtm_negatives: ``MODELS`` config of the VTM negative sampler
            (:class:`~alpro.models.samplers.VTMNegativeSampler`).
        vtm_rank_weight: weight of VTM's ranking loss (:meth:`vtm`); 0
            (ALPRO): off.
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
                 vtc_loss: dict = dict(type='VTCLoss'),
                 vtm_head: dict = dict(type='VTMHead'),
                 mlm_head: dict = dict(type='MLMHead'),
                 pem_head: dict = dict(type='PEMHead'),
                 pem_loss: dict = dict(type='SoftCrossEntropyLoss'),
                 vtm_negatives: dict = dict(type='VTMNegativeSampler'),
                 vtm_rank_weight: float = 0.0,
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
        self.vtc_loss = LOSSES.build(vtc_loss)
        if 'vtm' in self.tasks:
            self.vtm_head = HEADS.build(dict(vtm_head, in_dims=width))
            self.vtm_negatives = MODELS.build(vtm_negatives)
        if vtm_rank_weight < 0:
            raise ValueError(
                f'vtm_rank_weight must be >= 0, got {vtm_rank_weight}')
        self.vtm_rank_weight = float(vtm_rank_weight)
        self.order_negatives = self.build_order_negatives(
            order_negatives, self.tasks)
        if 'mlm' in self.tasks:
            config = self.text_encoder.bert.config
            self.mlm_head = HEADS.build(
                dict(
                    mlm_head,
                    hidden_size=width,
                    vocab_size=config.vocab_size,
                    layer_norm_eps=config.layer_norm_eps))
            self.mlm_head.tie_weights(
                self.text_encoder.bert.embeddings.word_embeddings)
        if 'pem' in self.tasks:
            if prompter is None:
                raise ValueError('the pem task needs an entity prompter')
            self.prompter = PROMPTERS.build(prompter)
            self.pem_head = HEADS.build(
                dict(
                    pem_head,
                    in_dims=width,
                    num_entities=len(self.prompter.entity_names)))
            self.pem_loss = LOSSES.build(pem_loss)

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
        """Draw K VTM negatives per row from the local batch (K: the
        sampler's ``num_negatives``, at most B - 1).

        Args:
            sim_v2t / sim_t2v: ``(B, W * B)`` logits from ``VTCLoss``.
            true_match: ``(B, B)`` bool pairs never drawn
                (:meth:`true_matches`); ``None``: the positives only.

        Returns:
            ``neg_text`` ``(K * B,)`` local text indices for the videos,
            ``neg_video`` ``(K * B,)`` local video indices for the texts
            (entry ``k * B + i``: row i's k-th draw), and ``has_text`` /
            ``has_video`` ``(K * B,)`` bool: the draw is a true negative.
        """
        batch = sim_v2t.size(0)
        local = self.vtc_loss.positive_index(batch, sim_v2t.device)
        if true_match is None:
            true_match = torch.eye(
                batch, dtype=torch.bool, device=sim_v2t.device)
        return self.vtm_negatives(sim_v2t[:, local], sim_t2v[:, local],
                                  true_match,
                                  self.vtc_loss.clamped_temperature())

    def vtm(self, fused_pos_cls: torch.Tensor, fused_neg_cls: torch.Tensor,
            neg_valid: torch.Tensor,
            neg_is_text: Sequence[bool]) -> Dict[str, torch.Tensor]:
        """VTM loss and accuracy from the fusion [CLS] of the B positives
        ``(B, D)`` and of the negatives ``(G * B, D)``: G groups of B, group
        g's row i a negative of pair i. ``neg_valid`` ``(G * B,)`` bool,
        ``False`` for a negative left out (no true negative to draw, a
        reversed clip of a caption naming no direction, a caption with no
        direction word to swap); ``neg_is_text``: G Python bools, the group
        holds negative texts of the videos (else negative videos of the
        texts).

        ``loss_vtm`` is ALPRO's: matched or not, each pair on its own. With
        ``vtm_rank_weight`` > 0, ``loss_vtm_rank`` also asks each caption's
        match log-odds to beat those of its negative videos (a softmax
        over the caption's list), and each clip's to beat its negative
        captions: the order retrieval ranks by.
        """
        logits = self.vtm_head(torch.cat([fused_pos_cls,
                                          fused_neg_cls])).float()
        batch = fused_pos_cls.size(0)
        positives = torch.ones(batch, dtype=torch.long, device=logits.device)
        negatives = torch.where(neg_valid, 0, -100).long()
        labels = torch.cat([positives, negatives])
        chosen = labels != -100
        correct = (logits.argmax(-1) == labels) & chosen
        out = dict(
            loss_vtm=F.cross_entropy(logits, labels, ignore_index=-100),
            vtm_acc=correct.sum() / chosen.sum())
        if self.vtm_rank_weight:
            log_odds = logits[:, 1] - logits[:, 0]
            pos, neg = log_odds[:batch], log_odds[batch:].view(-1, batch)
            neg = neg.masked_fill(~neg_valid.view(-1, batch), -torch.inf)
            rank_losses = []
            for texts in (False, True):
                groups = [g for g, t in enumerate(neg_is_text) if t == texts]
                if groups:
                    scores = torch.cat([pos.unsqueeze(0), neg[groups]])
                    rank_losses.append(-scores.log_softmax(0)[0].mean())
            out['loss_vtm_rank'] = self.vtm_rank_weight * torch.stack(
                rank_losses).mean()
        return out

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
            score: ``'vtm_prob'``, the probability of a match, or
                ``'vtm_logit'``, the match logit.

        Returns:
            ``(P,)`` float32.
        """
        fused = self.fuse(video_tokens, text_tokens, text_mask)
        logits = self.vtm_head(fused[:, 0]).float()
        if score == 'vtm_prob':
            return F.softmax(logits, dim=-1)[:, 1]
        if score == 'vtm_logit':
            return logits[:, 1]
        raise ValueError(
            f"score must be 'vtm_prob' or 'vtm_logit', got {score!r}")

    def mlm(self, fused_text: torch.Tensor,
            labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """MLM loss and accuracy from the fusion outputs of the masked
        captions' text part ``(B, L, D)``; ``labels`` ``(B, L)``, -100 where
        nothing is predicted."""
        logits = self.mlm_head(fused_text).float()
        chosen = labels != -100
        count = chosen.sum().clamp(min=1)
        correct = (logits.argmax(-1) == labels) & chosen
        # the mean over the predicted tokens; 0, not NaN, when a batch has
        # none (the masking is random)
        loss = F.cross_entropy(
            logits.flatten(0, 1),
            labels.flatten(),
            ignore_index=-100,
            reduction='sum') / count
        return dict(loss_mlm=loss, mlm_acc=correct.sum() / count)

    def pem_logits(self, fused: torch.Tensor, text_len: int,
                   region: torch.Tensor) -> torch.Tensor:
        """Entity logits ``(B, E)`` of each region: the fusion outputs of
        the region's video patch tokens, mean-pooled."""
        num_patches = region.size(1)
        # fused = [text (L) ; video cls (1) ; patches (N)]
        patches = fused[:, text_len + 1:text_len + 1 + num_patches]
        weights = region.to(patches.dtype).unsqueeze(-1)
        pooled = (patches * weights).sum(1) / weights.sum(1).clamp(min=1)
        return self.pem_head(pooled)

    def pem(self, inputs, fused) -> Dict[str, torch.Tensor]:
        """PEM loss, the fraction of samples kept and the pseudo-label
        entropy."""
        probs, keep = self.prompter.pseudo_labels(inputs['pem_crop'],
                                                  inputs.get('is_image'))
        logits = self.pem_logits(fused, inputs['text_mask'].size(1),
                                 inputs['pem_region'])
        entropy = -(probs * torch.log(probs.clamp(min=1e-12))).sum(-1)
        return dict(
            loss_pem=self.pem_loss(logits, probs, keep),
            pem_kept=keep.float().mean(),
            pem_entropy=entropy.mean())

    # -- the BaseModel interface --------------------------------------------
    def loss(self, inputs: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Every switched-on task's weighted loss plus what is logged.

        The caption and its MLM-masked (and direction-swapped) copies go
        through the text layers in one batch, and every pair the tasks fuse
        (B positives for VTM and PEM, 2KB hard negatives, B reversed clips and
        B swapped captions with the order negatives, B masked captions)
        goes through the fusion layers in one batch: the same arithmetic as
        separate passes, a fraction of the kernel launches.
        """
        text_ids, text_mask = inputs['text_ids'], inputs['text_mask']
        batch, length = text_ids.shape
        mlm = 'mlm' in self.tasks
        order = self.order_negatives
        reverse = order is not None and order.reverse_clips
        swap = order is not None and order.swap_captions
        video_tokens, video_feat = self.encode_video(inputs['video'])
        # the captions, their MLM-masked copies and their direction-swapped
        # copies through the text layers in one batch (encode_text's first
        # half; project_text, its second, for the captions that need it)
        texts = [text_ids]
        if mlm:
            texts.append(inputs['mlm_text_ids'])
        if swap:
            swapped_ids, swapped_valid = order.swap(text_ids)
            texts.append(swapped_ids)
        text_all = self.text_encoder.encode_text(
            torch.cat(texts), text_mask.repeat(len(texts), 1)).split(batch)
        text_tokens, swapped_tokens = text_all[0], text_all[-1]
        text_feat = self.project_text(text_tokens)
        sim_v2t, sim_t2v = self.vtc_loss.similarity(video_feat, text_feat)
        out = dict(temperature=self.vtc_loss.temp.detach())
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
                    self.vtc_loss.clamped_temperature(),
                    reversed_clips=(reversed_feat,
                                    reversed_valid) if reverse else None,
                    swapped_captions=(self.project_text(swapped_tokens),
                                      swapped_valid) if swap else None)
            out['loss_vtc'] = self.vtc_loss.loss_from_similarity(v2t, t2v)

        # (text, mask, video) of every pair to fuse, in one batch
        vtm = 'vtm' in self.tasks and batch > 1
        pairs = []
        if vtm or 'pem' in self.tasks:
            pairs.append((text_tokens, text_mask, video_tokens))
        if vtm:
            neg_text, neg_video, has_text, has_video = self.draw_negatives(
                sim_v2t, sim_t2v, self.true_matches(inputs))
            draws = neg_text.size(0) // batch
            pairs.append((text_tokens.repeat(draws, 1, 1),
                          text_mask.repeat(draws, 1), video_tokens[neg_video]))
            pairs.append((text_tokens[neg_text], text_mask[neg_text],
                          video_tokens.repeat(draws, 1, 1)))
            neg_valid = [has_video, has_text]
            neg_is_text = [False] * draws + [True] * draws
            if order is not None and order.vtm:
                if reverse:
                    pairs.append((text_tokens, text_mask, reversed_tokens))
                    neg_valid.append(reversed_valid)
                    neg_is_text.append(False)
                if swap:
                    pairs.append((swapped_tokens, text_mask, video_tokens))
                    neg_valid.append(swapped_valid)
                    neg_is_text.append(True)
        if mlm:
            pairs.append((text_all[1], text_mask, video_tokens))
        if pairs:
            text, mask, video = (torch.cat(part) for part in zip(*pairs))
            fused = list(self.fuse(video, text, mask).split(batch))
        if vtm or 'pem' in self.tasks:
            positives = fused.pop(0)
        if vtm:
            neg_valid = torch.cat(neg_valid)
            negatives = torch.cat([
                fused.pop(0)[:, 0] for _ in range(neg_valid.numel() // batch)
            ])
            out.update(
                self.vtm(positives[:, 0], negatives, neg_valid, neg_is_text))
            out['vtm_negatives_left_out'] = 1 - neg_valid.float().mean()
        if mlm:
            out.update(
                self.mlm(fused.pop(0)[:, :length], inputs['mlm_labels']))
        if 'pem' in self.tasks:
            out.update(self.pem(inputs, positives))
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
                self.vtm_negatives.start_iteration()
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
        logits = self.pem_logits(fused, inputs['text_mask'].size(1),
                                 inputs['pem_region'])
        return probs, logits.float().softmax(-1)
