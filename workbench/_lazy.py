"""Names of a package imported on first use (PEP 562): a staff app loads only what it uses.

Examples
--------
>>> getattr_, dir_ = lazy_names("pkg", {"sqrt": "math"})
>>> getattr_("sqrt")(9.0)
3.0
>>> getattr_("nope")
Traceback (most recent call last):
AttributeError: module 'pkg' has no attribute 'nope'
"""

from __future__ import annotations

import importlib
import sys
from typing import Callable


def lazy_names(package: str, names: dict[str, str], submodules: frozenset[str] = frozenset()
               ) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``names`` maps a public name to the module
    defining it; ``submodules`` are the package's modules reachable as attributes. A name is
    imported when first used and then kept in the package's namespace."""

    def __getattr__(name: str):
        if name in names:
            value = getattr(importlib.import_module(names[name]), name)
        elif name in submodules:
            value = importlib.import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = sys.modules.get(package)
        if module is not None:
            setattr(module, name, value)  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        module = sys.modules.get(package)
        return sorted({*(vars(module) if module else ()), *names, *submodules})

    return __getattr__, __dir__
