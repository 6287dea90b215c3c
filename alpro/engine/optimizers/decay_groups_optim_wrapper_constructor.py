"""Few parameter groups of the trainable parameters: decayed, not decayed,
and one per distinct custom learning rate / weight decay."""
import copy
import fnmatch
from typing import Dict, List, Optional, Set, Tuple

from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper
from mmengine.registry import OPTIMIZERS
from torch import nn

from alpro.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS

__all__ = ['DecayGroupsOptimWrapperConstructor']

#: the ``paramwise_cfg`` keys this constructor understands
SUPPORTED_PARAMWISE_KEYS = ('custom_keys', )
#: the settings a ``custom_keys`` entry may give
SUPPORTED_CUSTOM_KEY_FIELDS = ('lr_mult', 'decay_mult')

# (lr, weight_decay) of a group; None: the optimiser's default
Setting = Tuple[Optional[float], Optional[float]]


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class DecayGroupsOptimWrapperConstructor:
    """Build the optimiser over the TRAINABLE parameters, in few groups.

    Weight decay applies to matrices and embeddings; biases, norm weights
    and other parameters of at most one dimension (the VTC temperature)
    go to a group without decay, as ALPRO excludes biases and LayerNorms,
    and so do the parameters a submodule names in its ``no_weight_decay()``
    (TimeSformer's ``pos_embed``, ``cls_token``, ``time_embed``). As in
    timm, those names are relative to the submodule that declares them
    (``backbone.pos_embed`` in the whole model) and may hold ``fnmatch``
    wildcards; a name that matches no parameter is ignored. Frozen
    parameters (``requires_grad=False``, e.g. a frozen prompter) are left
    out, so that the optimiser neither stores state for them nor walks them
    at each step.

    ``paramwise_cfg=dict(custom_keys={key: dict(lr_mult=a, decay_mult=b)})``
    gives the parameters whose full name (as ``named_parameters()`` gives
    it) contains ``key`` the learning rate ``lr * a`` and the weight decay
    ``weight_decay * b`` (both multipliers default to 1). As in MMEngine,
    when several keys match a name the longest wins, and among keys of one
    length the first in alphabetical order. Unlike MMEngine's constructor,
    a custom key does not switch the no-decay rule off: a bias or a
    ``no_weight_decay()`` parameter that a key matches gets its learning
    rate and still no decay. A key that rules no trainable parameter (it
    matches none, or only names that other keys rule) is an error: a typo
    would otherwise change nothing. So is any other ``paramwise_cfg`` key.

    MMEngine's ``DefaultOptimWrapperConstructor`` with a ``paramwise_cfg``
    makes one parameter group per tensor, which defeats the multi-tensor
    (foreach / fused) AdamW kernels: hundreds of small launches per step.
    Here the parameters of one (lr, weight decay) pair share a group: the
    decayed group and the undecayed one (always the first two, even if
    empty), then one group per other pair the custom keys give. One line
    per group is logged: its tensors, parameters, lr, weight decay and
    custom keys.

    Args:
        optim_wrapper_cfg: the ``optim_wrapper`` config, with
            ``optimizer``.
        paramwise_cfg: None, or ``dict(custom_keys={...})`` as above.
            ``lr_mult`` needs the optimizer's ``lr`` in the config,
            ``decay_mult`` its ``weight_decay``.
    """

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None) -> None:
        self.optim_wrapper_cfg = copy.deepcopy(optim_wrapper_cfg)
        optimizer_cfg = self.optim_wrapper_cfg.get('optimizer', {})
        self.base_lr = optimizer_cfg.get('lr')
        self.base_wd = optimizer_cfg.get('weight_decay')
        self.custom_keys = self._check_paramwise_cfg(paramwise_cfg or {})
        # MMEngine's order: longest first, alphabetical among equal lengths
        self._sorted_keys = sorted(
            sorted(self.custom_keys), key=len, reverse=True)

    def _check_paramwise_cfg(self, paramwise_cfg: dict) -> Dict[str, dict]:
        unknown = sorted(set(paramwise_cfg) - set(SUPPORTED_PARAMWISE_KEYS))
        if unknown:
            raise ValueError(
                f'DecayGroupsOptimWrapperConstructor: paramwise_cfg key(s) '
                f'{unknown} not supported; supported: '
                f'{list(SUPPORTED_PARAMWISE_KEYS)} (biases, norms and '
                'no_weight_decay() parameters are never decayed). Remove '
                'them, or use DefaultOptimWrapperConstructor')
        custom_keys = paramwise_cfg.get('custom_keys', {})
        if not isinstance(custom_keys, dict):
            raise ValueError(
                'DecayGroupsOptimWrapperConstructor: paramwise_cfg.custom_keys'
                f' must be a dict {{key: dict(lr_mult=..., decay_mult=...)}},'
                f' got {type(custom_keys).__name__}')
        for key, setting in custom_keys.items():
            fields = set(setting) if isinstance(setting, dict) else None
            if fields is None or fields - set(SUPPORTED_CUSTOM_KEY_FIELDS):
                raise ValueError(
                    'DecayGroupsOptimWrapperConstructor: '
                    f'paramwise_cfg.custom_keys[{key!r}] = {setting!r}: a '
                    f'dict of {list(SUPPORTED_CUSTOM_KEY_FIELDS)} only')
            for field, base, name in (('lr_mult', self.base_lr, 'lr'),
                                      ('decay_mult', self.base_wd,
                                       'weight_decay')):
                if field in setting and base is None:
                    raise ValueError(
                        'DecayGroupsOptimWrapperConstructor: '
                        f'paramwise_cfg.custom_keys[{key!r}] sets {field}; '
                        f'set optim_wrapper.optimizer.{name} for it to '
                        'multiply')
        return copy.deepcopy(custom_keys)

    def __call__(self, model: nn.Module):
        if is_model_wrapper(model):
            model = model.module
        no_decay_patterns = no_weight_decay_patterns(model)
        decay = self._new_group((self.base_lr, self.base_wd))
        no_decay = self._new_group((self.base_lr, 0.0))
        groups = [decay, no_decay]
        by_setting = {no_decay['setting']: no_decay}
        by_setting.setdefault(decay['setting'], decay)
        # keys in a trainable / a frozen name; keys that rule a parameter
        in_trainable: Set[str] = set()
        in_frozen: Set[str] = set()
        ruling: Set[str] = set()
        for name, param in model.named_parameters():
            contained = [key for key in self._sorted_keys if key in name]
            if not param.requires_grad:
                in_frozen.update(contained)
                continue
            in_trainable.update(contained)
            key = contained[0] if contained else None
            if key is not None:
                ruling.add(key)
            decayed = param.ndim > 1 and not any(
                fnmatch.fnmatchcase(name, p) for p in no_decay_patterns)
            setting = self._setting(key, decayed)
            group = by_setting.get(setting)
            if group is None:
                group = by_setting[setting] = self._new_group(setting)
                groups.append(group)
            group['params'].append(param)
            group['numel'] += param.numel()
            if key is not None:
                group['keys'].add(key)
        self._check_every_key_rules(model, in_trainable, in_frozen, ruling)

        logger = MMLogger.get_current_instance()
        param_groups = []
        for index, group in enumerate(groups):
            lr, weight_decay = group['setting']
            keys = (f', custom keys {sorted(group["keys"])}'
                    if group['keys'] else '')
            logger.info(f'param group {index}: {len(group["params"])} '
                        f'tensors, {group["numel"]} parameters, '
                        f'lr {_or_default(lr)}, weight_decay '
                        f'{_or_default(weight_decay)}{keys}')
            param_group = dict(params=group['params'])
            if lr is not None:
                param_group['lr'] = lr
            if weight_decay is not None:
                param_group['weight_decay'] = weight_decay
            param_groups.append(param_group)

        wrapper_cfg = copy.deepcopy(self.optim_wrapper_cfg)
        wrapper_cfg.setdefault('type', 'OptimWrapper')
        optimizer_cfg = wrapper_cfg.pop('optimizer')
        optimizer_cfg['params'] = param_groups
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        return OPTIM_WRAPPERS.build(
            wrapper_cfg, default_args=dict(optimizer=optimizer))

    def _check_every_key_rules(self, model: nn.Module, in_trainable: Set[str],
                               in_frozen: Set[str], ruling: Set[str]) -> None:
        """A custom key that sets no parameter is a mistake: say which."""
        idle = [key for key in self._sorted_keys if key not in ruling]
        if not idle:
            return
        unmatched = [key for key in idle if key not in in_trainable]
        overruled = [key for key in idle if key in in_trainable]
        frozen = [key for key in unmatched if key in in_frozen]
        problems = []
        if unmatched:
            problems.append(
                f'{unmatched} match(es) no trainable parameter name of '
                f'{type(model).__name__}' +
                (f' ({frozen} only frozen ones)' if frozen else ''))
        if overruled:
            problems.append(
                f'{overruled} only match(es) names that longer (or, as long,'
                ' alphabetically earlier) keys rule')
        raise ValueError(
            'DecayGroupsOptimWrapperConstructor: paramwise_cfg.custom_keys '
            f'{"; ".join(problems)}: fix or remove the key(s)')

    def _setting(self, key: Optional[str], decayed: bool) -> Setting:
        """(lr, weight_decay) of a parameter."""
        custom = self.custom_keys.get(key, {}) if key is not None else {}
        lr = self.base_lr
        if 'lr_mult' in custom:
            lr = self.base_lr * custom['lr_mult']
        if not decayed:
            return lr, 0.0
        weight_decay = self.base_wd
        if 'decay_mult' in custom:
            weight_decay = self.base_wd * custom['decay_mult']
        return lr, weight_decay

    @staticmethod
    def _new_group(setting: Setting) -> dict:
        return dict(setting=setting, params=[], numel=0, keys=set())


def no_weight_decay_patterns(model: nn.Module) -> List[str]:
    """The names, in ``model``, of the parameters its submodules exclude
    from weight decay with ``no_weight_decay()``.

    Each submodule's names are relative to it (timm's convention) and are
    qualified here by the submodule's prefix in ``model``.
    """
    patterns = []
    for prefix, module in model.named_modules():
        no_weight_decay = getattr(module, 'no_weight_decay', None)
        if not callable(no_weight_decay):
            continue
        for name in no_weight_decay():
            patterns.append(f'{prefix}.{name}' if prefix else name)
    return patterns


def _or_default(value: Optional[float]) -> str:
    return 'optimizer default' if value is None else f'{value:g}'
