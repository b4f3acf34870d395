"""Collapse the cells a chapter tags ``hide-input`` in JupyterLab too.

The HTML book hides the input of a cell tagged ``hide-input`` (a click shows it);
JupyterLab reads another flag, the cell metadata ``jupyter.source_hidden``. This command
sets that flag on every cell tagged ``hide-input`` (and clears it elsewhere), in the
notebook and its paired MyST file, without touching outputs::

    python -m book.collapse notebooks/03_cross_entropy.ipynb [...]

``tests/test_template.py`` checks that the two agree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

TAG = "hide-input"


def collapse(nb: dict) -> int:
    """Set ``jupyter.source_hidden`` on the code cells tagged ``hide-input``, clear it on
    the others; return how many cells are collapsed."""
    n = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        meta = cell.setdefault("metadata", {})
        jupyter = meta.get("jupyter", {})
        if TAG in meta.get("tags", []):
            jupyter["source_hidden"] = True
            n += 1
        else:
            jupyter.pop("source_hidden", None)
        if jupyter:
            meta["jupyter"] = jupyter
        else:
            meta.pop("jupyter", None)
    return n


def main(paths: list[str]) -> int:
    import jupytext

    if not paths:
        print(__doc__)
        return 2
    for name in paths:
        path = Path(name).with_suffix(".ipynb")
        nb = json.loads(path.read_text())
        n = collapse(nb)
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        md = path.with_suffix(".md")
        if md.exists():
            text = jupytext.read(md)
            for cell, stored in zip(text.cells, nb["cells"], strict=True):
                if "jupyter" in stored.get("metadata", {}):
                    cell.metadata["jupyter"] = stored["metadata"]["jupyter"]
                else:
                    cell.metadata.pop("jupyter", None)
            jupytext.write(text, md, fmt="md:myst")
        print(f"{path}: {n} cells collapsed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
