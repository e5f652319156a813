"""irad: a JIT-traced automatic-differentiation compiler for numerical Python.

The public names below are a contract (../shared/API.md).
"""
__version__ = "0.1.0"

from .errors import (GradientMismatch, IradError, Location, ParseError, TypingError,
                     UnsupportedError, VerificationError)
from .ir import Builder, Func, Module
from .parser import parse_ir
from .verifier import verify
from .interpreter import run as interpret
from .api import jit
from .autodiff import (Active, AutoFiniteDifferences, AutoInterpreter, AutoReverse, Const,
                       Duplicated, gradient, jit_gradient, pullback, withgradient)
from .finite_differences import check_gradient

__all__ = [
    "jit", "gradient", "withgradient", "pullback", "jit_gradient", "check_gradient",
    "Duplicated", "Const", "Active", "AutoReverse", "AutoInterpreter", "AutoFiniteDifferences",
    "IradError", "UnsupportedError", "TypingError", "GradientMismatch", "VerificationError",
    "ParseError", "Location", "parse_ir", "verify", "interpret", "Builder", "Func", "Module",
]
