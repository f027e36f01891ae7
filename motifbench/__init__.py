"""motifbench: a benchmark for interpretable genomics CNNs.

The umbrella package holds only the CLI that assembles each part's commands;
the version has one source (pyproject.toml) and is read from package metadata
so every part can record it without importing this package.
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("motifbench")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
