"""Unique names: the one rule every importer, pass and emitter uses to avoid clashes."""
from __future__ import annotations


def unique_name(base: str, taken, sep: str = "_") -> str:
    """``base`` if it is free, else ``base{sep}1``, ``base{sep}2``, ...; the result is added to ``taken``
    when ``taken`` is a set."""
    name, k = base, 1
    while name in taken:
        name, k = f"{base}{sep}{k}", k + 1
    if isinstance(taken, set):
        taken.add(name)
    return name


class NameAllocator:
    """Hands out names that are unique among everything reserved or handed out before."""

    def __init__(self, taken=()):
        self.taken = set(taken)

    def reserve(self, name: str) -> None:
        self.taken.add(name)

    def fresh(self, base: str) -> str:
        return unique_name(base, self.taken)

    def __contains__(self, name) -> bool:
        return name in self.taken
