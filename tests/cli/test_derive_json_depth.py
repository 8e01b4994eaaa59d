"""`derive --json` at large K (issue 34): the K-th chained payment's closed form nests K levels,
and `sp.srepr` of it at K = 1000 hit Python's recursion limit (exit 3). Such a closed form is
left out (null) beside its recursive rule, which always prints."""

from __future__ import annotations

import sympy as sp

from mechdsl.cli.derive_cmd import _srepr_or_none


def test_a_closed_form_too_deep_to_print_is_null_and_a_shallow_one_prints():
    x = sp.Symbol("x", real=True)
    f = sp.Function("f")
    deep = x
    for _ in range(5000):
        deep = f(deep)
    assert _srepr_or_none(deep) is None
    assert _srepr_or_none(f(x) + 1) == sp.srepr(f(x) + 1)
