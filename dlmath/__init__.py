"""dlmath: the mathematics of deep learning, derived in SymPy, implemented in JAX, verified.

Import the modules you need (``from dlmath import losses``); importing ``dlmath`` itself
only defines :func:`setup` and does nothing at import time (no randomness, no downloads,
no global settings).
"""

from dlmath.notebook import setup

__version__ = "0.1.0"
__all__ = ["setup", "__version__"]
