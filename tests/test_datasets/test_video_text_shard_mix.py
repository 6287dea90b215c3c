"""VideoTextShardMix: shard corpora mixed by ratios, seeded, each source's
draws apart."""
import pytest

from alpro.datasets import VideoTextShardMix
from alpro.datasets.transforms import RandomTransform
from tests.shard_files import video2dataset_sample, write_corpus, write_tar

PIPELINE = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', num_frames=1, strategy='rand'),
    dict(type='DecordDecode'),
    dict(type='PackVideoTextInputs'),
]


@pytest.fixture(scope='module')
def two_corpora(tmp_path_factory):
    """Shards ``a/{0..1}.tar`` (captions 'a i') and ``b/0.tar``
    ('b i'), 12 samples each, over the same 3 videos."""
    root = tmp_path_factory.mktemp('mix')
    write_corpus(root, 3)
    videos = [root / f'videos/p/v{i}.mp4' for i in range(3)]
    for shard, name, first in (('a/0', 'a', 0), ('a/1', 'a', 6), ('b/0', 'b',
                                                                  0)):
        count = 6 if name == 'a' else 12
        write_tar(root / f'{shard}.tar', [
            video2dataset_sample(f'{name}{first + i:03d}', videos[i % 3],
                                 f'{name} {first + i}') for i in range(count)
        ])
    return root


def mix(root, ratios, stop='first', seed=0):
    source = dict(
        type='VideoTextShardDataset',
        pipeline=PIPELINE,
        seed=seed,
        shuffle_buffer=4)
    return VideoTextShardMix([
        dict(source, shards=str(root / 'a/{0..1}.tar')),
        dict(source, shards=str(root / 'b/0.tar'))
    ],
                             ratios=ratios,
                             stop=stop,
                             seed=seed)


def corpus_of(samples):
    return [s['data_samples'].text.split()[0] for s in samples]


def test_ratios_and_stop(two_corpora):
    # stop='first': the stream ends when one corpus (12 samples) runs out
    names = corpus_of(mix(two_corpora, [1, 1]))
    counts = sorted([names.count('a'), names.count('b')])
    assert counts[1] == 12 and 0 < counts[0] < 12
    # stop='all': every sample once; at 3:1 'a' leads until it runs out
    every = corpus_of(mix(two_corpora, [3, 1], stop='all'))
    assert sorted(every) == ['a'] * 12 + ['b'] * 12
    assert every[:12].count('a') > every[:12].count('b')
    assert every[-1] == 'b'
    only_a = corpus_of(mix(two_corpora, [1, 0], stop='all'))
    assert only_a == ['a'] * 12


def test_seeded_and_epoch_dependent(two_corpora):

    def texts(seed, epoch=0):
        dataset = mix(two_corpora, [1, 1], seed=seed)
        dataset.set_epoch(epoch)
        return [s['data_samples'].text for s in dataset]

    assert texts(0) == texts(0)
    assert texts(0) != texts(1)
    assert texts(0) != texts(0, epoch=1)


def test_sources_draw_in_their_own_streams(two_corpora):
    dataset = mix(two_corpora, [1, 1])
    streams = [
        t._stream for source in dataset.datasets
        for t in source.pipeline.transforms if isinstance(t, RandomTransform)
    ]
    assert streams == [(0, 1), (1, 1)]  # SampleFrames of each source
    assert all(
        t._sample_seed is dataset.sample_seed for source in dataset.datasets
        for t in source.pipeline.transforms if isinstance(t, RandomTransform))


def test_bad_ratios_are_refused(two_corpora):
    with pytest.raises(ValueError, match='one non-negative weight'):
        mix(two_corpora, [1])
    with pytest.raises(ValueError, match='not all zero'):
        mix(two_corpora, [0, 0])
