"""Checkpoint keys that alpro's models hold under another name now."""
from typing import Any, Dict

from mmengine.logging import print_log

__all__ = ['RENAMED_KEYS', 'rename_old_keys']

#: old key prefix -> new key prefix of alpro's own models
RENAMED_KEYS = {'vtc_loss.': 'vtc_head.'}


def rename_old_keys(state_dict: Dict[str, Any], prefix: str = '') -> int:
    """Rename, in place, the keys of ``state_dict`` under ``prefix`` that
    alpro's models held under another name (:data:`RENAMED_KEYS`: the VTC
    temperature ``vtc_loss.temp`` is now ``vtc_head.temp``); a key whose
    new name is present too is left alone; the log says how many were
    renamed. Returns that number."""
    renamed = 0
    for old, new in RENAMED_KEYS.items():
        for key in [k for k in state_dict if k.startswith(prefix + old)]:
            target = prefix + new + key[len(prefix + old):]
            if target not in state_dict:
                state_dict[target] = state_dict.pop(key)
                renamed += 1
    if renamed:
        names = ', '.join(f'{old}* -> {new}*'
                          for old, new in RENAMED_KEYS.items())
        print_log(
            f'renamed {renamed} checkpoint keys to their current names '
            f'({names})',
            logger='current')
    return renamed
