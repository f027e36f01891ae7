"""Errors a baseline user can act on (unknown model, bad flag, missing extra)."""
from benchmark.errors import MotifbenchError


class BaselineError(MotifbenchError):
    """A zoo name, spec, protocol field, device or run folder was wrong; the message says which."""
