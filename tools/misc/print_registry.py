"""List every registered component per registry, with its module.

Usage: python tools/misc/print_registry.py [--registry NAME ...]
Plugins installed through the ``alpro.plugins`` entry point are included.
"""
import argparse
from typing import Dict, List, Tuple

from alpro.registry import ALL_REGISTRIES
from alpro.utils import register_all_modules


def registry_table(names: List[str]) -> Dict[str, List[Tuple[str, str]]]:
    """registry name -> sorted (component, module) pairs of alpro's scope."""
    table = {}
    for name in names:
        registry = ALL_REGISTRIES[name]
        registry.import_from_location()
        table[name] = sorted((key, getattr(obj, '__module__', '?'))
                             for key, obj in registry.module_dict.items())
    return table


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--registry',
        nargs='+',
        choices=list(ALL_REGISTRIES),
        default=list(ALL_REGISTRIES),
        help='registries to list (default: all)')
    args = parser.parse_args(argv)
    register_all_modules(init_default_scope=False)
    for name, rows in registry_table(args.registry).items():
        registry = ALL_REGISTRIES[name]
        print(f'{name} ({registry.scope}::{registry.name}): '
              f'{len(rows)} components')
        width = max((len(key) for key, _ in rows), default=0)
        for key, module in rows:
            print(f'  {key:<{width}}  {module}')


if __name__ == '__main__':
    main()
