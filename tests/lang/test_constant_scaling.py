"""Checking n constants is linear in n (issue 34): the checker's constant -> value substitution
was rebuilt from scratch after every declaration, n^2 / 2 SymPy Floats in all (2,000 chained
constants took 40 s to check, 5,000 never finished). It now grows by the constants declared
since its last use; counted here by the Floats the substitution makes, not by wall time."""

from __future__ import annotations

import sympy as sp

import mechdsl
from mechdsl.lang import spec_checker

SPEC = "specs/static_contract.mech"


def chained_constants(n: int) -> str:
    source = open(SPEC).read()
    extra = "\n".join(f"param z{i} = {'z' + str(i - 1) if i else '0'} + 1" for i in range(n))
    return source.replace("param M = 10", "param M = 10\n" + extra, 1)


def floats_made_checking(n: int, tmp_path, monkeypatch) -> int:
    made = 0

    class CountingSympy:
        def __getattr__(self, name):
            return getattr(sp, name)

        @staticmethod
        def Float(*args, **kwargs):
            nonlocal made
            made += 1
            return sp.Float(*args, **kwargs)

    monkeypatch.setattr(spec_checker, "sp", CountingSympy())
    path = tmp_path / f"constants_{n}.mech"
    path.write_text(chained_constants(n))
    model = mechdsl.load(str(path))
    assert model.constants[f"z{n - 1}"].value == n
    monkeypatch.undo()
    return made


def test_the_constant_substitution_grows_linearly(tmp_path, monkeypatch):
    small, large = (floats_made_checking(n, tmp_path, monkeypatch) for n in (100, 400))
    # Linear: 4x the constants, about 4x the Floats (a rebuild per declaration would make ~16x).
    assert large - small <= 4 * 300, (small, large)
