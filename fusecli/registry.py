"""A tiny name -> object registry for the things users pick by name.

Models, fusion methods, metrics and degradations each keep one :class:`Registry`; adding a
new entry means adding one decorated function or class in one file.
"""

from __future__ import annotations

import difflib
from typing import Callable, Generic, Iterator, TypeVar

from fusecli.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Case-insensitive name -> object map with aliases and "did you mean" errors."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._aliases: dict[str, str] = {}
        self._display: dict[str, str] = {}  # lower-case key -> name as registered

    def register(self, name: str, obj: T | None = None, *, aliases: tuple[str, ...] = ()) -> Callable[[T], T] | T:
        """Register ``obj`` under ``name``; usable directly or as a decorator."""

        def add(item: T) -> T:
            key = name.lower()
            if key in self._items or key in self._aliases:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[key] = item
            self._display[key] = name
            for alias in aliases:
                self._aliases[alias.lower()] = key
            return item

        return add(obj) if obj is not None else add

    def canonical(self, name: str) -> str:
        """The registered name for ``name`` or an alias; raises with suggestions if unknown."""
        key = name.lower()
        key = self._aliases.get(key, key)
        if key not in self._items:
            choices = list(self._items) + list(self._aliases)
            close = difflib.get_close_matches(key, choices, n=3, cutoff=0.5)
            shown = list(dict.fromkeys(self._display[self._aliases.get(c, c)] for c in close))
            hint = f"; did you mean {', '.join(shown)}?" if shown else f"; choose from {', '.join(self.names())}"
            raise UnknownNameError(f"unknown {self.kind} {name!r}{hint}")
        return key

    def get_name(self, name: str) -> str:
        """The name as registered (original capitalisation) for ``name`` or an alias."""
        return self._display[self.canonical(name)]

    def get(self, name: str) -> T:
        return self._items[self.canonical(name)]

    def names(self) -> list[str]:
        """Names as registered (original capitalisation)."""
        return [self._display[k] for k in self._items]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.lower()
        return key in self._items or key in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[tuple[str, T]]:
        return list(self._items.items())


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package`` that imports ``exports[name]`` (a module path) the
    first time ``name`` is asked for, so importing the package stays cheap (PEP 562)."""
    import importlib
    import sys

    def getattr_(name: str) -> object:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name]), name)
        setattr(sys.modules[package], name, value)  # later look-ups skip this function
        return value

    return getattr_
