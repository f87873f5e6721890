"""One small name -> object registry, shared by models and techniques.

Borrowed from timm's ``_registry.py`` in spirit, but deliberately tiny: register, get, list.
Unknown names raise ``KeyError`` naming the closest valid names, so a typo in a notebook
parameter or on the command line tells the user what they meant.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """A named collection of entries (model entry points, technique specs, ...).

    Args:
        kind: What the entries are, used in error messages ("model", "technique").
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str, obj: T | None = None) -> T | Callable[[T], T]:
        """Register ``obj`` under ``name``; usable directly or as a decorator.

        Raises:
            ValueError: if ``name`` is already registered (silent overwrites hide bugs).
        """
        if obj is None:

            def deco(o: T) -> T:
                self.register(name, o)
                return o

            return deco
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = obj
        return obj

    def get(self, name: str) -> T:
        """Return the entry called ``name``.

        Raises:
            KeyError: naming the closest valid names when ``name`` is unknown.
        """
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, list(self._entries), n=5, cutoff=0.5)
        hint = f"did you mean: {', '.join(close)}?" if close else f"valid: {', '.join(sorted(self._entries)[:30])}"
        return f"unknown {self.kind} {name!r}; {hint} (list them with `workbench {self.kind}s`)"

    def list(self, pattern: str | None = None) -> list[str]:
        """Sorted names, optionally filtered by a shell-style ``pattern`` (``'mobilenet*'``)."""
        names = sorted(self._entries)
        if pattern:
            if not any(ch in pattern for ch in "*?["):
                pattern = f"*{pattern}*"
            names = [n for n in names if fnmatch.fnmatch(n, pattern)]
        return names

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)
