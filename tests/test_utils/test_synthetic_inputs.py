"""The synthetic assets of a config: a tokenizer that knows the words the
config names, so that a model with the order-aware objective builds from no
file of its config's."""
from pathlib import Path

from mmengine.config import Config
from transformers import AutoTokenizer

from alpro.utils.synthetic_inputs import (build_random_model, named_words,
                                          num_words, write_synthetic_assets)

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / 'configs/demo/pretrain_prompter.py'


def test_the_tokenizer_knows_the_named_words(tmp_path):
    cfg = Config.fromfile(CONFIG)
    words = named_words(cfg.model)
    assert words[:4] == ['left', 'right', 'up', 'down']
    assert len(words) == len(set(words)) == 10
    tokenizer_dir, _ = write_synthetic_assets(str(tmp_path), cfg)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    assert len(tokenizer) == num_words(cfg) + 5
    for word in words:
        assert tokenizer.tokenize(word) == [word]


def test_a_model_with_order_negatives_builds_from_no_file():
    model = build_random_model(Config.fromfile(CONFIG))
    swapped, valid = model.order_negatives.swap(
        model.data_preprocessor.tokenizer(['left up'],
                                          return_tensors='pt')['input_ids'])
    assert model.data_preprocessor.tokenizer.decode(
        swapped[0], skip_special_tokens=True) == 'right down'
    assert valid.tolist() == [True]
