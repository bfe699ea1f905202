"""Deprecated aliases for names that moved to another module.

A module whose public function moved elsewhere keeps the old name working for a release:

.. code-block:: python

    from crmlib.compat import moved

    __getattr__ = moved(__name__, {"headline_findings": "crmlib.present.rfm"})

``crmlib.rfm.headline_findings`` then still works, with a :class:`DeprecationWarning` that names
the new home. The new module is imported only when an old name is used, so an analysis module
can point at a presentation module without importing it (the layers stay as CONTRIBUTING.md
draws them).
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "moved",
    "renamed_keyword",
]


def moved(module: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that serves moved names from their new modules.

    Parameters
    ----------
    module
        ``__name__`` of the module that used to define the names.
    names
        Old name -> new module, or -> ``"new.module:new_name"`` when the name changed too.
    """

    def __getattr__(name: str) -> Any:
        target = names.get(name)
        if target is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        new_module, _, new_name = target.partition(":")
        new_name = new_name or name
        warnings.warn(
            f"{module}.{name} moved to {new_module}.{new_name}; the old name will be removed",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(new_module), new_name)

    return __getattr__


def renamed_keyword(
    function: str, kwargs: dict[str, Any], old: str, new: str, value: Any = None
) -> Any:
    """Take deprecated keyword ``old`` out of ``kwargs`` as the value of ``new``.

    Returns ``value`` (the new keyword's value) when the old one was not given. Raises
    ``TypeError`` when both were given, as Python does for a repeated argument.
    """
    if old not in kwargs:
        return value
    if value is not None:
        raise TypeError(f"{function}() got both {new!r} and its deprecated alias {old!r}")
    warnings.warn(
        f"{function}(): keyword {old!r} is deprecated, use {new!r}",
        DeprecationWarning,
        stacklevel=3,
    )
    return kwargs.pop(old)
