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


def pytest_configure(config):
    _private_compilation_cache()


def _private_compilation_cache() -> None:
    """A compilation cache of this test process's own, emptied when it ends.

    Most of a test's time is XLA compiling, and the same program is often compiled again: a
    fresh ``jax.jit(lambda ...)`` in each test, one kernel at the same shapes in several
    tests. JAX's persistent cache looks such a program up by its content, so the repeats
    cost a read instead of a compile; the executable is the one compiled the first time,
    so no number changes. The folder is private to the process (JAX writes an entry without
    a lock, so a second process could read it half-written) and it is set through
    ``jax.config``, not the environment: notebook kernels and other subprocesses do not
    inherit it. A ``JAX_COMPILATION_CACHE_DIR`` set by the user is left as it is.
    """
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return
    import atexit
    import shutil
    import tempfile

    import jax

    folder = tempfile.mkdtemp(prefix="dlmath-test-xla-cache-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
