"""Lazy public APIs for package ``__init__`` modules (PEP 562), so ``import part`` stays cheap.

The CLI imports every part to register its commands; a package that imported
NumPy, ONNX Runtime or torch at import time would slow every command down.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_api(package: str, api: Mapping[str, tuple[str, str]], namespace: dict[str, Any]
             ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` resolving ``name -> (module, attribute)`` on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__`` (for error messages).
    api : mapping
        Public name -> (module to import, attribute of that module).
    namespace : dict
        The package's ``globals()``: a resolved name is cached there.
    """

    def __getattr__(name: str) -> Any:
        if name not in api:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attribute = api[name]
        value = getattr(importlib.import_module(module), attribute)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(api))

    return __getattr__, __dir__
