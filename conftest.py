"""Session set-up shared by the unit tests and the notebooks (nbval).

On a fresh machine, matplotlib's first import builds its font cache and says so on stderr;
in a notebook kernel that message would become a stored output that the next run does not
produce. Building the cache here, in the test process, before any kernel starts, keeps
notebook outputs identical on fresh and used machines. (Under pytest-xdist this hook runs in
the controlling process before the workers start, so they find the cache built.)

The tests run on two worker processes, and each notebook in a kernel of its own: on a GPU,
JAX would let the first process take most of the device's memory, so every process here
(and every kernel, which inherits the environment) allocates as it goes instead.
"""

import os

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


def pytest_sessionstart(session):
    import matplotlib.font_manager  # noqa: F401  (builds the font cache if it is missing)
