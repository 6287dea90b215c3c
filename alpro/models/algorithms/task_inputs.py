"""What each pre-training task reads from the data preprocessor, checked
when a model is built: a config whose tasks need inputs its preprocessor
does not make fails then, not with a ``KeyError`` at the first step."""
from typing import Dict, Sequence, Tuple

from torch import nn

__all__ = ['TASK_INPUTS', 'check_task_inputs']

#: The ``inputs`` keys each task reads beyond ``video``, ``text_ids`` and
#: ``text_mask``.
TASK_INPUTS: Dict[str, Tuple[str, ...]] = dict(
    vtc=(),
    vtm=(),
    mlm=('mlm_text_ids', 'mlm_labels'),
    pem=('pem_crop', 'pem_region'))

# The setting of AlproPretrainDataPreprocessor that makes a task's inputs,
# and what to set it to.
_SETTINGS = dict(
    mlm=('mlm_probability', 'mlm_probability > 0 (ALPRO: 0.15)'),
    pem=('pem', 'pem=dict(patch_size={patch_size})'))


def check_task_inputs(tasks: Sequence[str], data_preprocessor: nn.Module,
                      backbone: nn.Module, where: str) -> None:
    """Refuse tasks whose inputs the data preprocessor does not make, and
    PEM regions cut on another patch grid than the backbone's.

    The preprocessor declares what it makes by its ``input_keys`` (see
    :class:`~alpro.models.data_preprocessors.VideoTextDataPreprocessor`);
    one without that attribute is not checked. The PEM grid is the
    preprocessor's ``pem['patch_size']``, the backbone's its ``patch_size``
    (the video backbone contract).

    Args:
        tasks: the tasks on (keys of :data:`TASK_INPUTS`).
        data_preprocessor: the built data preprocessor.
        backbone: the built backbone.
        where: who checks, for the message (e.g. ``'AlproPretrainer'``).

    Raises:
        ValueError: naming the task, the preprocessor's type and setting,
            and what to change.
    """
    name = type(data_preprocessor).__name__
    made = getattr(data_preprocessor, 'input_keys', None)
    patch_size = getattr(backbone, 'patch_size', None)
    for task in tasks:
        missing = [k for k in TASK_INPUTS.get(task, ()) if k not in made] \
            if made is not None else []
        if not missing:
            continue
        setting, fix = _SETTINGS[task]
        fix = fix.format(patch_size=patch_size)
        if hasattr(data_preprocessor, setting):
            value = getattr(data_preprocessor, setting)
            why = f'has {setting}={value!r}, so it makes no'
            what = f'set model.data_preprocessor.{fix}'
        else:
            why = f'makes only {", ".join(made)}, no'
            what = ("use type='AlproPretrainDataPreprocessor' with "
                    f'{fix}')
        raise ValueError(
            f'{where}: tasks include {task!r} but data_preprocessor {name} '
            f'{why} {", ".join(missing)}: {what}, or drop {task!r} from '
            'model.tasks')
    pem = getattr(data_preprocessor, 'pem', None)
    if 'pem' in tasks and isinstance(pem, dict) and 'patch_size' in pem \
            and pem['patch_size'] != patch_size:
        raise ValueError(
            f'{where}: data_preprocessor {name} has pem.patch_size='
            f'{pem["patch_size"]} but backbone {type(backbone).__name__} '
            f'has patch_size={patch_size}: PEM regions must be cut on the '
            'patch grid of the backbone\'s tokens; set '
            f'model.data_preprocessor.pem.patch_size={patch_size}')
