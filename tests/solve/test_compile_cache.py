"""The solvers' compile cache: one build per owner object, rebuilt for a new owner, bounded."""

import numpy as np
import sympy as sp

from mechdsl.solve.compile_cache import NUMPY_MODULES, IdentityCache


class Owner:
    pass


def test_builds_once_per_owner():
    cache, owner, calls = IdentityCache(4), Owner(), []
    build = lambda: calls.append(1) or len(calls)  # noqa: E731
    assert cache.get("k", owner, build) == 1
    assert cache.get("k", owner, build) == 1
    assert calls == [1]


def test_a_new_owner_under_the_same_key_is_rebuilt():
    cache = IdentityCache(4)
    first, second = Owner(), Owner()
    assert cache.get("k", first, lambda: "first") == "first"
    assert cache.get("k", second, lambda: "second") == "second"
    assert cache.get("k", second, lambda: "again") == "second"


def test_keeps_only_the_newest_entries():
    cache, owners = IdentityCache(2), [Owner() for _ in range(3)]
    for k, owner in enumerate(owners):
        cache.get(k, owner, lambda k=k: k)
    assert cache.get(0, owners[0], lambda: "rebuilt") == "rebuilt"  # the oldest was evicted
    assert cache.get(2, owners[2], lambda: "rebuilt") == 2


def test_numpy_modules_evaluate_max_and_min_elementwise():
    x, y = sp.symbols("x y", real=True)
    f = sp.lambdify([x, y], [sp.Max(x, y, 0), sp.Min(x, y)], NUMPY_MODULES)
    high, low = f(np.array([-1.0, 2.0, -3.0]), np.array([-2.0, 1.0, 4.0]))
    np.testing.assert_array_equal(high, [0.0, 2.0, 4.0])
    np.testing.assert_array_equal(low, [-2.0, 1.0, -3.0])
