"""tools/train.py and tools/test.py tell the user what to do: missing inputs
all at once before any work, overrides that would change nothing refused,
a component's type swapped without ``_delete_``, checkpoints in a work dir
never overwritten silently, and a console without the stack's noise."""
import glob
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from alpro.registry import BACKBONES
from alpro.utils.config_overrides import ConfigOverrideError
from alpro.utils.required_paths import MissingInputsError
from tests import tool_modules
from tests.tool_runs import tool_env

REPO = Path(__file__).resolve().parents[2]
TOY = REPO / 'tests/data/configs/toy_train.py'
STAGE_TWO = REPO / 'configs/demo/pretrain.py'


def tool(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / 'tools' / script), *args],
        cwd=cwd,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=600)


def load_tool(script: str):
    """tools/SCRIPT as a module, to run its ``main`` in this process."""
    return tool_modules.load_tool(f'tools/{script}')


@pytest.fixture
def run_main(monkeypatch, capsys):
    """``run_main(script, *argv, cwd=DIR)``: the tool's ``main`` in this
    process, from DIR; returns ``(exit status, stderr)``."""
    monkeypatch.setenv('LOCAL_RANK', '0')

    def run(script: str, *argv: str, cwd: Path):
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        with pytest.raises(SystemExit) as stop:
            load_tool(script).main(list(argv))
        return stop.value.code, capsys.readouterr().err

    return run


def train_config(*options: str):
    train = load_tool('train.py')
    args = train.parse_args([
        str(REPO / 'configs/demo/pretrain_prompter.py'), '--cfg-options',
        *options
    ])
    return train.load_runner_config(args)


def test_missing_inputs_are_reported_at_once_without_traceback(
        run_main, tmp_path):
    status, stderr = run_main('train.py', str(STAGE_TWO), cwd=tmp_path)
    assert status == 2
    lines = stderr.splitlines()
    assert lines[0].startswith('train.py: error: 6 input(s)')
    assert f'read from {tmp_path}, the working directory' in lines[0]
    make_demo = 'make_demo_data.py --out data/demo'
    for kind, path, fix in [
        ('tokenizer', 'data/demo/tokenizer', make_demo),
        ('pretrained weights', 'work_dirs/pretrain_prompter/epoch_30.pth',
         'configs/demo/pretrain_prompter.py'),
        ('entity file', 'data/demo/entities.txt', 'build_entity_vocab.py'),
        ('annotation file', 'data/demo/annotations/results_demo_train.csv',
         make_demo),
        ('video folder', 'data/demo/videos', make_demo),
        ('annotation file', 'data/demo/annotations/results_demo_val.csv',
         make_demo),
    ]:
        assert any(f'missing {kind} {path} (' in line and fix in line
                   for line in lines[1:]), (kind, path, stderr)
    assert len(lines) == 7
    # nothing was started: no work dir, no log
    assert not (tmp_path / 'work_dirs').exists()


@pytest.mark.slow
def test_no_traceback_unless_debug(monkeypatch, tmp_path):
    done = tool('train.py', str(STAGE_TWO), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith('train.py: error: 6 input(s)')
    assert 'Traceback' not in done.stderr
    monkeypatch.setenv('LOCAL_RANK', '0')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MissingInputsError) as error:  # and its traceback
        load_tool('train.py').main([str(STAGE_TWO), '--debug'])
    assert len(error.value.missing) == 6


def test_missing_config_names_the_working_directory(run_main, tmp_path):
    status, stderr = run_main(
        'train.py', 'configs/demo/pretrain_prompter.py', cwd=tmp_path)
    assert status == 2
    assert stderr.startswith(
        'train.py: error: config configs/demo/pretrain_prompter.py not found')
    assert f'{tmp_path}, the working directory' in stderr


def test_missing_checkpoint_to_test_names_the_train_command(
        run_main, demo_corpus):
    status, stderr = run_main(
        'test.py',
        str(REPO / 'configs/demo/pretrain_prompter.py'),
        'work_dirs/pretrain_prompter/epoch_30.pth',
        cwd=demo_corpus)
    assert status == 2
    # the corpus is there: the checkpoint is the one missing input
    assert stderr.startswith('test.py: error: 1 input(s)')
    assert 'missing checkpoint work_dirs/pretrain_prompter/epoch_30.pth ' \
        in stderr
    assert f'tools/train.py {REPO}/configs/demo/pretrain_prompter.py' \
        in stderr


def test_override_of_a_copied_variable_is_refused():
    with pytest.raises(ConfigOverrideError) as error:
        train_config('max_epochs=1')
    message = str(error.value)
    assert "'max_epochs' is a variable of the config" in message
    assert ('--cfg-options train_cfg.max_epochs=1 param_scheduler.1.end=1 '
            'train_cfg.val_interval=1') in message
    # what it suggests takes effect
    cfg = train_config('train_cfg.max_epochs=1', 'param_scheduler.1.end=1')
    assert cfg.train_cfg.max_epochs == 1
    assert cfg.param_scheduler[1].end == 1


def test_string_variable_override_names_the_strings_made_from_it():
    with pytest.raises(ConfigOverrideError) as error:
        train_config('data_root=/mnt/demo')
    message = str(error.value)
    assert 'train_dataloader.dataset.ann_file=' \
        '/mnt/demo/annotations/results_demo_train.csv' in message
    assert 'train_dataloader.dataset.data_prefix.video=/mnt/demo/videos' \
        in message
    # a literal that merely contains the text is named too only where the
    # source builds it from the variable: the tokenizer path is a literal
    assert 'tokenizer.path' not in message


def test_component_type_swapped_without_delete():
    # the plugin comes in through a custom import on the command line
    cfg = train_config('model.backbone.type=Conv3dTransformer',
                       'custom_imports.imports=[alpro_example_plugin]',
                       'model.backbone.num_frames=4')
    backbone_cfg = cfg.model.backbone
    assert backbone_cfg.type == 'Conv3dTransformer'
    assert 'arch' not in backbone_cfg  # TimeSformer's, not the plugin's
    assert backbone_cfg.num_frames == 4 and backbone_cfg.img_size == 64
    backbone = BACKBONES.build(backbone_cfg)
    assert type(backbone).__module__.startswith('alpro_example_plugin')
    tokens = backbone(torch.randn(1, 3, 4, 64, 64))
    assert tokens.shape == (1, 1 + 16, backbone.embed_dims)


@pytest.mark.slow
def test_checkpoints_in_work_dir_are_not_overwritten(run_main, demo_corpus,
                                                     tmp_path):
    work_dir = tmp_path / 'run'
    options = ('--work-dir', str(work_dir), '--cfg-options',
               'train_cfg.max_epochs=1')
    first = tool('train.py', str(TOY), *options, cwd=demo_corpus)
    assert first.returncode == 0, first.stderr[-3000:]
    checkpoint = work_dir / 'epoch_1.pth'
    written = checkpoint.read_bytes()
    # the console: no deprecation notes, no dumps (they are in the log)
    console = first.stdout + first.stderr
    assert 'FileClient' not in console and 'HardDiskBackend' not in console
    assert 'System environment' not in console
    assert 'Hooks will be executed' not in console
    assert 'SyncBatchNorm' not in console
    log = Path(glob.glob(str(work_dir / '*/*.log'))[0]).read_text()
    assert 'System environment' in log and 'Config:' in log
    assert 'FileClient' not in log

    status, stderr = run_main('train.py', str(TOY), *options, cwd=demo_corpus)
    assert status == 2
    message = stderr.strip()
    assert message.count('\n') == 0
    assert f'work dir {work_dir} already holds checkpoints' in message
    assert 'epoch_1.pth' in message
    assert '--resume' in message and '--overwrite' in message
    assert checkpoint.read_bytes() == written

    # --overwrite passes that check: the next one (an input) stops it here
    status, stderr = run_main(
        'train.py',
        str(TOY),
        *options,
        'train_dataloader.dataset.ann_file=nowhere.csv',
        '--overwrite',
        cwd=demo_corpus)
    assert status == 2
    assert 'missing annotation file nowhere.csv' in stderr
    assert checkpoint.read_bytes() == written
