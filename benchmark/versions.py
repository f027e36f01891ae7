"""Versions that every record carries, read without importing the umbrella package."""
from importlib.metadata import PackageNotFoundError, version


def motifbench_version() -> str:
    try:
        return version("motifbench")
    except PackageNotFoundError:
        return "0.0.0+unknown"
