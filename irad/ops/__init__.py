"""The op table. Importing this package defines every op exactly once."""
from .core import OPS, OpDef, TypeRuleError  # noqa: F401
from . import scalar, memory, linalg, control, tape  # noqa: F401,E402
