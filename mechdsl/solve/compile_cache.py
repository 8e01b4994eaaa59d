"""What the exact solvers and the certificate compile once: the NumPy namespace every
`sympy.lambdify` of theirs uses, and a cache of compiled programs keyed by the identity of
the model or derivation they were compiled from."""

from __future__ import annotations

from typing import Callable, Hashable, TypeVar

import numpy as np

NUMPY_MODULES = [{"Max": np.maximum, "Min": np.minimum}, "numpy"]
"""`lambdify(..., NUMPY_MODULES)`: SymPy's Max and Min as NumPy's elementwise binary
maximum and minimum, so every program evaluates a whole batch of states at once."""

T = TypeVar("T")


class IdentityCache:
    """`build()` once per owner object (a model or derivation). The entry holds the owner, so
    its id cannot be reused while the entry lives; the `size` newest entries are kept."""

    def __init__(self, size: int = 8):
        self.size = size
        self._entries: dict[Hashable, tuple[object, object]] = {}

    def get(self, key: Hashable, owner: object, build: Callable[[], T]) -> T:
        entry = self._entries.get(key)
        if entry is None or entry[0] is not owner:
            if len(self._entries) >= self.size:
                self._entries.pop(next(iter(self._entries)))
            self._entries[key] = entry = (owner, build())
        return entry[1]
