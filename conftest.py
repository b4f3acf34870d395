"""Session set-up shared by the unit tests and the notebooks (nbval).

On a fresh machine, matplotlib's first import builds its font cache and says so on stderr;
in a notebook kernel that message would become a stored output that the next run does not
produce. Building the cache here, in the test process, before any kernel starts, keeps
notebook outputs identical on fresh and used machines.
"""


def pytest_sessionstart(session):
    import matplotlib.font_manager  # noqa: F401  (builds the font cache if it is missing)
