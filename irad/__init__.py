"""irad: a JIT-traced automatic-differentiation compiler for numerical Python."""
from .errors import (GradientMismatch, IradError, Location, ParseError, TypingError,  # noqa: F401
                     UnsupportedError, VerificationError)
from .ir import Builder, Func, Module  # noqa: F401
from .parser import parse_ir  # noqa: F401
from .verifier import verify  # noqa: F401
from .interpreter import run as interpret  # noqa: F401

__version__ = "0.1.0"
from .api import jit  # noqa: F401,E402
from .autodiff import (Active, AutoFiniteDifferences, AutoInterpreter, AutoReverse,  # noqa: F401,E402
                       Const, Duplicated, check_gradient, gradient, jit_gradient, pullback,
                       withgradient)
