"""Register every alpro module and make ``alpro`` the default scope."""
import datetime
import warnings

from mmengine import DefaultScope

__all__ = ['register_all_modules']


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every registering module of alpro.

    Args:
        init_default_scope: also make ``alpro`` the current default scope
            (a new, uniquely named instance if another scope is current).
    """
    import alpro.datasets  # noqa: F401
    import alpro.engine  # noqa: F401
    import alpro.evaluation  # noqa: F401
    import alpro.models  # noqa: F401
    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or not DefaultScope.check_instance_created('alpro'):
        DefaultScope.get_instance('alpro', scope_name='alpro')
    elif current.scope_name != 'alpro':
        warnings.warn(f'The current default scope "{current.scope_name}" is '
                      'not "alpro"; a new one is created for alpro.')
        DefaultScope.get_instance(
            f'alpro-{datetime.datetime.now()}', scope_name='alpro')
