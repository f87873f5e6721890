"""Files the published pages load by relative path: the one place that copies plotly.js.

Every page of a report folder loads ``assets/plotly.min.js`` (:data:`PLOTLY_JS_SRC`), the copy
bundled with the installed plotly package, so nothing comes from a CDN.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

#: where every page of a report folder finds plotly.js, relative to the page
PLOTLY_JS_SRC = "assets/plotly.min.js"


def plotly_js_path() -> Path:
    """The installed plotly package's own ``plotly.min.js`` (found without importing plotly)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("plotly is not installed; run `make setup`")
    return Path(spec.origin).parent / "package_data" / "plotly.min.js"


def copy_plotly_js(dest: str | os.PathLike) -> Path:
    """Copy plotly's bundled ``plotly.min.js`` to ``dest`` and return the path written.

    Args:
        dest: a folder (the file is written as ``dest/plotly.min.js``) or a ``.js`` file path.
    """
    dest = Path(dest)
    if dest.suffix != ".js":
        dest = dest / "plotly.min.js"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(plotly_js_path(), dest)
    return dest
