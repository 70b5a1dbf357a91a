"""Subcommands whose implementation has not landed yet: registered, documented, and honest."""

from __future__ import annotations

from ..errors import NotImplementedYetError


def not_implemented(name: str) -> None:
    raise NotImplementedYetError(f"'fusecli {name}' is not implemented yet in this version")
