"""``python -m book build``: write the HTML book into ``_build/html``."""

from book.build import main

raise SystemExit(main())
