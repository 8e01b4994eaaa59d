"""min/max lowering (`mechdsl.lang.lowering.lattice`): the cheap simplifications SymPy's evaluated
Min/Max would also make, none of its pairwise symbolic comparisons, and the same value."""

import sympy as sp

from mechdsl.lang.lowering import lattice

x, y = sp.symbols("x y", real=True)


def test_numbers_evaluate_to_their_extreme():
    assert lattice(sp.Min, (sp.Integer(2), sp.Float(0.5), sp.Integer(3))) == sp.Float(0.5)
    assert lattice(sp.Max, (sp.Integer(2), sp.Rational(7, 2))) == sp.Rational(7, 2)


def test_numbers_among_symbols_collapse_to_one():
    assert lattice(sp.Min, (sp.Integer(2), x, sp.Integer(3))).args == sp.Min(2, x).args
    assert set(lattice(sp.Max, (sp.Integer(2), x, sp.Integer(3), y)).args) == {sp.Integer(3), x, y}


def test_nested_same_lattice_flattens_and_repeats_merge():
    inner = lattice(sp.Min, (y, sp.Integer(1)))
    built = lattice(sp.Min, (x, inner, x, sp.Integer(3)))
    assert isinstance(built, sp.Min) and set(built.args) == {x, y, sp.Integer(1)}
    assert lattice(sp.Max, (x, x)) == x


def test_other_lattice_nests_as_written():
    built = lattice(sp.Max, (lattice(sp.Min, (x, y)), sp.Integer(0)))
    assert set(built.args) == {sp.Min(x, y), sp.Integer(0)}


def test_equal_to_sympys_evaluated_min_max_on_random_points():
    """Kept arguments that SymPy would have dropped (min(x, x + 1)) do not change the value."""
    cases = [(sp.Min, (x, x + 1, sp.Integer(2))), (sp.Max, (x * y, sp.Integer(0), y - 1)),
             (sp.Min, (sp.Abs(x), sp.Integer(-1), y)), (sp.Max, (lattice(sp.Max, (x, y)), x + y, sp.Rational(1, 3)))]
    points = [(-2.5, 0.3), (0.0, 0.0), (1.7, -4.2), (3.0, 3.0), (0.25, 10.0)]
    for build, args in cases:
        ours, sympys = lattice(build, args), build(*args)
        for px, py in points:
            assert float(ours.subs({x: px, y: py})) == float(sympys.subs({x: px, y: py}))
