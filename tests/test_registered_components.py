"""Every registered head, loss, text encoder, prompter and dataset, the
example plugin's included, built tiny and checked against its kind's
contract (as timm tests every model it registers). A new component must add
its tiny case here; ``test_registered_backbones.py`` does the same for
video backbones."""
import csv
import inspect
import json
from typing import Callable, Dict, Tuple

import alpro_example_plugin  # noqa: F401  (the plugin's components too)
import pytest
import torch
from mmengine.model import BaseModule
from torch import nn

from alpro.models.text_encoders import check_text_encoder
from alpro.registry import DATASETS, HEADS, LOSSES, PROMPTERS, TEXT_ENCODERS
from alpro.structures import VideoTextDataSample
from alpro.utils import init_random_weights
from tests.test_models.test_prompters.tiny_entity_prompter import \
    entity_prompter_cfg
from tests.test_models.test_text_encoders.test_plugin_text_encoder import \
    ENCODER as PLUGIN_TEXT_ENCODER
from tests.tiny_components import tiny_text_encoder

B, L, N, D, E = 3, 5, 4, 8, 6


def seeded(*shape) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


def similarities(head: nn.Module) -> Tuple[torch.Tensor, ...]:
    return head(
        nn.functional.normalize(seeded(B, D), dim=-1),
        nn.functional.normalize(seeded(B, D).flip(0), dim=-1))


def qa_samples():
    samples = [VideoTextDataSample() for _ in range(B)]
    for sample, label in zip(samples, (0, 2, -1)):
        sample.answer_label = label
    return samples


#: name -> (tiny build kwargs, the arguments of its ``loss``)
HEAD_CASES: Dict[str, Tuple[dict, Callable]] = {
    'VTCHead': (dict(), similarities),
    'SigmoidVTCHead': (dict(), similarities),
    'VTMHead': (dict(in_dims=D), lambda head:
                (seeded(B, D), seeded(2 * B, D),
                 torch.ones(2 * B, dtype=torch.bool), [False, True])),
    'MLMHead':
    (dict(hidden_size=D, vocab_size=11), lambda head:
     (seeded(B, L, D), torch.tensor([[-100, 3, -100, -100, 7]] * B))),
    'PEMHead':
    (dict(in_dims=D, num_entities=E), lambda head:
     (seeded(B, L + 1 + N, D), L, torch.ones(B, N, dtype=torch.bool),
      seeded(B, E).softmax(-1), torch.ones(B, dtype=torch.bool))),
    'QAHead': (dict(in_dims=D, num_answers=E), lambda head:
               (seeded(B, D), qa_samples())),
}


@pytest.mark.parametrize('name', sorted(HEADS.module_dict))
def test_head_contract(name):
    """A head is a BaseModule whose ``loss`` returns a dict with at least
    one finite scalar ``loss_*`` that trains the head's parameters."""
    if name not in HEAD_CASES:
        pytest.fail(f'head {name!r} is registered but has no case in '
                    'HEAD_CASES of this test')
    kwargs, loss_args = HEAD_CASES[name]
    head = HEADS.build(dict(type=name, **kwargs))
    assert isinstance(head, BaseModule)
    head.init_weights()
    out = head.loss(*loss_args(head))
    losses = {k: v for k, v in out.items() if k.startswith('loss')}
    assert losses, f'{name}.loss returned no loss_* key: {sorted(out)}'
    for key, value in losses.items():
        assert value.dim() == 0 and torch.isfinite(value), key
    sum(losses.values()).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in head.parameters()), f'{name}: no gradient'


#: name -> (tiny build kwargs, the arguments of its forward)
LOSS_CASES: Dict[str, Tuple[dict, Callable]] = {
    'SoftCrossEntropyLoss':
    (dict(), lambda:
     (seeded(B, E).requires_grad_(), seeded(B, E).softmax(-1))),
}


@pytest.mark.parametrize('name', sorted(LOSSES.module_dict))
def test_loss_contract(name):
    """A loss is a parameter-free module giving a finite, differentiable
    scalar."""
    if name not in LOSS_CASES:
        pytest.fail(f'loss {name!r} is registered but has no case in '
                    'LOSS_CASES of this test')
    kwargs, args = LOSS_CASES[name]
    loss_fn = LOSSES.build(dict(type=name, **kwargs))
    assert isinstance(loss_fn, nn.Module)
    assert not list(loss_fn.parameters()), 'a LOSSES entry has no weights'
    inputs = args()
    value = loss_fn(*inputs)
    assert value.dim() == 0 and torch.isfinite(value)
    value.backward()
    assert inputs[0].grad is not None


#: name -> tiny build config
TEXT_ENCODER_CASES = {
    'BertTextFusionEncoder': tiny_text_encoder(),
    'TransformerTextFusionEncoder': PLUGIN_TEXT_ENCODER,
}


@pytest.mark.parametrize('name', sorted(TEXT_ENCODERS.module_dict))
def test_text_encoder_contract(name):
    """``hidden_size`` D; ``encode_text(ids, mask)`` -> ``(B, L, D)``;
    ``fuse(text, mask, video)`` -> ``(B, L + V, D)``, ``[text ; video]``,
    its [CLS] reading the video."""
    if name not in TEXT_ENCODER_CASES:
        pytest.fail(f'text encoder {name!r} is registered but has no case '
                    'in TEXT_ENCODER_CASES of this test')
    encoder = TEXT_ENCODERS.build(TEXT_ENCODER_CASES[name]).eval()
    check_text_encoder(encoder, 'test_text_encoder_contract', tasks=('mlm', ))
    width = encoder.hidden_size
    ids = torch.randint(
        5, 20, (B, L), generator=torch.Generator().manual_seed(0))
    mask = torch.ones(B, L, dtype=torch.long)
    mask[0, -2:] = 0
    with torch.no_grad():
        text = encoder.encode_text(ids, mask)
        assert text.shape == (B, L, width)
        video = seeded(B, 1 + N, width)
        fused = encoder.fuse(text, mask, video)
        assert fused.shape == (B, L + 1 + N, width)
        other = encoder.fuse(text, mask, video.flip(0))
    assert not torch.allclose(fused[:, 0], other[:, 0])


@pytest.mark.parametrize('name', sorted(TEXT_ENCODERS.module_dict))
def test_text_encoder_builds_from_no_file(name, tmp_path):
    """A ``pretrained`` folder is read in ``init_weights()``, never when
    the encoder is built, and skipped by ``init_random_weights``."""
    if 'pretrained' not in inspect.signature(
            TEXT_ENCODERS.get(name)).parameters:
        pytest.skip(f'{name} reads no weight file')
    cfg = dict(TEXT_ENCODER_CASES[name], pretrained=str(tmp_path / 'none'))
    init_random_weights(TEXT_ENCODERS.build(cfg))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / 'none')):
        TEXT_ENCODERS.build(cfg).init_weights()


@pytest.mark.parametrize('name', sorted(PROMPTERS.module_dict))
def test_prompter_contract(name, tokenizer_dir, stage_one):
    """Templates: sentences with one ``{}`` each, filled per entity. The
    entity prompter: soft pseudo-labels ``(B, E)`` (rows summing to 1) and
    which samples are kept ``(B,)``."""
    cls = PROMPTERS.get(name)
    if name == 'EntityPrompter':
        checkpoint, entities = stage_one
        prompter = PROMPTERS.build(
            entity_prompter_cfg(tokenizer_dir, checkpoint, entities))
        prompter.init_weights()
        prompter.build_cache()
        probs, keep = prompter.pseudo_labels(seeded(2, 3, 2, 32, 32))
        assert probs.shape == (2, len(prompter.entity_names))
        torch.testing.assert_close(probs.sum(-1), torch.ones(2))
        assert keep.shape == (2, ) and keep.dtype == torch.bool
        return
    kwargs = dict(templates=['a {} here.']) if name == 'PromptTemplates' \
        else dict()
    templates = PROMPTERS.build(dict(type=name, **kwargs))
    assert isinstance(templates, cls) and len(templates) > 0
    filled = templates.fill('dog')
    assert len(filled) == len(templates)
    assert all('dog' in sentence and '{}' not in sentence
               for sentence in filled)


VIDEO_PIPELINE = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', num_frames=2, strategy='uniform'),
    dict(type='DecordDecode'),
    dict(type='PackVideoTextInputs'),
]
ANN = 'data/demo/annotations'
VIDEOS = dict(video='data/demo/videos')

#: name -> tiny build kwargs over the demo corpus (make_demo_data.py)
DATASET_CASES = {
    'WebVidDataset':
    dict(ann_file=f'{ANN}/results_demo_val.csv', data_prefix=VIDEOS),
    'CC3MDataset':
    dict(
        ann_file=f'{ANN}/cc3m_demo.json',
        data_prefix=dict(img='data/demo'),
        pipeline=[
            dict(type='LoadImageAsClip', num_frames=2),
            dict(type='PackVideoTextInputs')
        ]),
    'MSRVTTRetrievalDataset':
    dict(ann_file=f'{ANN}/msrvtt_ret/test.jsonl', data_prefix=VIDEOS),
    'DiDeMoRetrievalDataset':
    dict(ann_file=f'{ANN}/didemo_ret/test.jsonl', data_prefix=VIDEOS),
    'VideoQADataset':
    dict(
        ann_file=f'{ANN}/demo_qa/test.jsonl',
        ans2label_file=f'{ANN}/demo_qa/train_ans2label.json',
        data_prefix=VIDEOS),
    'JsonlVideoTextDataset':
    dict(ann_file='demo.jsonl', data_prefix=VIDEOS),
    # streams: shards of the demo val split, packed by the test
    'VideoTextShardDataset':
    dict(shards='shards/{00000..00001}.tar', seed=0),
    'VideoTextShardMix':
    dict(
        datasets=[
            dict(
                type='VideoTextShardDataset',
                shards='shards/00000.tar',
                pipeline=VIDEO_PIPELINE),
            dict(
                type='VideoTextShardDataset',
                shards='shards/00001.tar',
                pipeline=VIDEO_PIPELINE)
        ],
        ratios=[1, 1],
        seed=0),
}


def pack_demo_shards() -> None:
    """``shards/{00000..00001}.tar`` from the demo val split, in the
    current folder."""
    from tests.tool_modules import load_tool
    pack_shards = load_tool('tools/data/pack_shards.py')
    pack_shards.main([
        'shards', '--dataset-type', 'WebVidDataset', '--ann-file',
        'data/demo/annotations/results_demo_val.csv', '--data-root',
        'data/demo/videos', '--max-samples-per-shard', '3'
    ])


@pytest.mark.parametrize('name', sorted(DATASETS.module_dict))
def test_dataset_contract(name, demo_corpus, monkeypatch):
    """A dataset reads its annotation form from the demo corpus and gives
    samples as the data preprocessors take them: ``inputs`` a uint8 clip
    ``(T, C, H, W)`` and a data sample with its ``text``."""
    if name not in DATASET_CASES:
        pytest.fail(f'dataset {name!r} is registered but has no case in '
                    'DATASET_CASES of this test')
    monkeypatch.chdir(demo_corpus)
    with open('data/demo/annotations/results_demo_val.csv') as f:
        rows = list(csv.DictReader(f))[:3]
    with open('demo.jsonl', 'w') as f:
        for row in rows:
            f.write(
                json.dumps(
                    dict(
                        video=f"{row['page_dir']}/{row['videoid']}.mp4",
                        caption=row['name'])) + '\n')
    kwargs = {'pipeline': VIDEO_PIPELINE, **DATASET_CASES[name]}
    if isinstance(DATASETS.get(name), type) and issubclass(
            DATASETS.get(name), torch.utils.data.IterableDataset):
        pack_demo_shards()
        if name == 'VideoTextShardMix':
            del kwargs['pipeline']  # its sources have theirs
        sample = next(iter(DATASETS.build(dict(type=name, **kwargs))))
    else:
        dataset = DATASETS.build(dict(type=name, **kwargs))
        assert len(dataset) > 0
        sample = dataset[0]
    clip = sample['inputs']
    assert clip.dtype == torch.uint8 and clip.dim() == 4
    assert clip.shape[:2] == (2, 3)  # T frames, RGB
    text = sample['data_samples'].text
    assert isinstance(text, str) and text.strip()
