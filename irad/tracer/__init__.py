"""The tracer: Python functions → typed SSA IR (see trace.py)."""
from .trace import Traced, trace  # noqa: F401
from .pytree import signature_key, runtime_leaves  # noqa: F401
