"""``wb.show_source(obj)``: the real source of a block, shown in the notebook that measures it.

The returned object renders as syntax-highlighted HTML (pygments, inline styles: no stylesheet
or script needed, so nbconvert's HTML and the offline report show it as JupyterLab does), as a
Markdown ```python fence, and as plain text. Its header names the file relative to the
repository and the first line, e.g. ``workbench/measure/traffic.py:39``.
"""

from __future__ import annotations

import html
import inspect
from dataclasses import dataclass
from pathlib import Path

from ..paths import REPO_ROOT


@dataclass(frozen=True)
class Source:
    """Source code of one object. ``location`` is ``path:line`` (path relative to the repo)."""

    qualname: str
    location: str
    code: str

    def _repr_html_(self) -> str:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer

        body = highlight(self.code, PythonLexer(), HtmlFormatter(noclasses=True, nowrap=False))
        head = f"<div style='font-family:monospace;font-size:90%;color:#555'>{html.escape(self.location)} &mdash; {html.escape(self.qualname)}</div>"
        return f"<div class='wb-source'>{head}{body}</div>"

    def _repr_markdown_(self) -> str:
        return f"`{self.location}` ({self.qualname})\n\n```python\n{self.code}```\n"

    def __str__(self) -> str:
        return f"# {self.location}\n{self.code}"

    def __repr__(self) -> str:
        return str(self)


def _relative(path: str) -> str:
    p = Path(path).resolve()
    try:
        return p.relative_to(REPO_ROOT).as_posix()
    except ValueError:  # installed elsewhere (site-packages): show the path from the package on
        parts = p.parts
        return "/".join(parts[parts.index("workbench") :]) if "workbench" in parts else p.as_posix()


def show_source(obj) -> Source:
    """The source of a class, function or method, to display in a notebook.

    Args:
        obj: a class, function, method or module defined in Python source (not a builtin or
            an instance: pass ``type(x)`` for an instance).

    Returns:
        a :class:`Source` that renders highlighted in JupyterLab and nbconvert HTML.

    Raises:
        ValueError: when ``obj`` has no Python source.
    """
    if not (
        inspect.isclass(obj)
        or inspect.isfunction(obj)
        or inspect.ismethod(obj)
        or inspect.ismodule(obj)
    ):
        raise ValueError(
            f"show_source needs a class, function, method or module, got {type(obj).__name__}; "
            "for an instance pass type(obj)"
        )
    try:
        lines, start = inspect.getsourcelines(obj)
        path = inspect.getsourcefile(obj)
    except (OSError, TypeError) as e:
        raise ValueError(f"show_source: no Python source for {obj!r} ({e})") from None
    name = getattr(obj, "__qualname__", getattr(obj, "__name__", repr(obj)))
    module = getattr(obj, "__module__", None)
    qualname = f"{module}.{name}" if module and not inspect.ismodule(obj) else name
    return Source(
        qualname=qualname, location=f"{_relative(path)}:{max(start, 1)}", code="".join(lines)
    )
