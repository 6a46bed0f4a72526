"""A tiny name → object registry shared by activations, losses and initializers."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Objects registered under a name, looked up with an error listing the names."""

    def __init__(self, kind: str, base: type) -> None:
        self.kind = kind
        self.base = base
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T) -> T:
        """Make ``item`` known as ``name`` (lower case); returns it."""
        self._items[name] = item
        return item

    def names(self) -> list[str]:
        """The registered names, in registration order."""
        return list(self._items)

    def get(self, spec: str | T) -> T:
        """The object named ``spec`` (objects pass through).

        Raises
        ------
        ValueError
            Unknown name; the message lists the known ones.
        TypeError
            ``spec`` is neither a name nor a registered kind of object.
        """
        if isinstance(spec, str):
            key = spec.strip().lower()
            if key not in self._items:
                msg = f"unknown {self.kind} {spec!r}; known: {', '.join(self._items)}"
                raise ValueError(msg)
            return self._items[key]
        if not isinstance(spec, self.base):
            msg = f"{self.kind} must be a name ({', '.join(self._items)}) or a {self.kind} object, got {spec!r}"
            raise TypeError(msg)
        return spec
