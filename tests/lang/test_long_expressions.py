"""Long expressions cost no recursion: sums, products and runs of signs of any length check,
and nesting deeper than the parser's limit is one positioned error (exit 2), never a
RecursionError (exit 3).

Values are compared with the same arithmetic done here in Python.
"""

from __future__ import annotations

import sympy as sp

from mechdsl.cli.main import main
from mechdsl.lang import ast, load_source, parse
from mechdsl.lang.diagnostics import SpecError
from mechdsl.lang.lowering import Context, lower
from mechdsl.lang.parser import MAX_NESTING
from spec_samples import TINY

BASE = TINY.read_text(encoding="utf-8")


def with_param(expr: str) -> str:
    """tiny_contract.mech with `param z = <expr>` on line 6."""
    return BASE.replace("param N = 4\n", f"param N = 4\nparam z = {expr}\n")


def checked_value(expr: str) -> sp.Expr:
    return load_source(with_param(expr)).constants["z"].value


def check_exit(tmp_path, source: str, capsys) -> tuple[int, str]:
    path = tmp_path / "long.mech"
    path.write_text(source, encoding="utf-8")
    code = main(["check", str(path)])
    return code, capsys.readouterr().err


def alternating_sum(terms: int) -> tuple[str, int]:
    """`1 + 2 - 3 + 4 - 5 ...` and its value."""
    text, value = "1", 1
    for k in range(2, terms + 1):
        sign = "+" if k % 2 == 0 else "-"
        text += f" {sign} {k}"
        value += k if sign == "+" else -k
    return text, value


# ------------------------------------------------------------------ long, flat expressions
def test_a_sum_of_10000_terms_checks_from_the_cli(tmp_path, capsys):
    text, value = alternating_sum(10_000)
    code, err = check_exit(tmp_path, with_param(text), capsys)
    assert code == 0, err
    assert checked_value(text) == value == 1 + 10_000 - 4999  # 4999 pairs + 2k - (2k + 1)


def test_a_sum_of_100000_terms_checks():
    text, value = alternating_sum(100_000)
    assert checked_value(text) == value == 1 + 100_000 - 49_999


def test_a_long_sum_is_one_flat_node_and_one_flat_sympy_add():
    names = [f"x{k}" for k in range(2000)]
    (statement,) = parse("let s = " + " - ".join(names)).statements
    chain = statement.value
    assert isinstance(chain, ast.OperatorChain) and len(chain.rest) == 1999
    assert {op for op, _ in chain.rest} == {"-"}
    symbols = {name: sp.Symbol(name) for name in names}
    lowered = lower(chain, scope=None, ctx=Context(symbols))
    assert isinstance(lowered, sp.Add) and len(lowered.args) == 2000
    assert lowered.as_coefficients_dict() == {symbols["x0"]: 1, **{symbols[n]: -1 for n in names[1:]}}


def test_a_product_of_5000_factors_checks():
    assert checked_value(" * ".join(["2"] * 5000) + " / " + " / ".join(["2"] * 4998)) == 4
    assert checked_value("64 / 2 / 2 * 3") == 48  # left to right: ((64 / 2) / 2) * 3


def test_5000_unary_minus_signs_check(tmp_path, capsys):
    code, err = check_exit(tmp_path, with_param("-" * 5000 + "3"), capsys)
    assert code == 0, err
    assert checked_value("-" * 5000 + "3") == 3
    assert checked_value("-" * 5001 + "3") == -3


def test_seven_unary_minus_signs_are_one_minus():
    (statement,) = parse("let z = -------x").statements
    assert statement.value == ast.Negate(ast.Span.unknown(), ast.Name(ast.Span.unknown(), "x"), 7)
    x = sp.Symbol("x")
    assert lower(statement.value, scope=None, ctx=Context({"x": x})) == -x
    assert checked_value("-------3") == -3
    assert checked_value("-+-+-3") == -3 and checked_value("+-(-(-3))") == -3 and checked_value("+3") == 3


def test_brackets_that_repeat_the_order_of_operations_add_no_node():
    (left,) = parse("let z = (((a - b) + c) - d)").statements
    (flat,) = parse("let z = a - b + c - d").statements
    assert left.value == flat.value and len(flat.value.rest) == 3
    (right,) = parse("let z = a - (b - c)").statements
    assert right.value != parse("let z = a - b - c").statements[0].value
    assert checked_value("10 - (4 - 3)") == 9 and checked_value("(10 - 4) - 3") == 3


def test_5000_brackets_around_a_number_check(tmp_path, capsys):
    code, err = check_exit(tmp_path, with_param("(" * 5000 + "7" + ")" * 5000), capsys)
    assert code == 0, err


# ------------------------------------------------------------------ real nesting
def test_a_5000_factor_power_is_one_positioned_error(tmp_path, capsys):
    code, err = check_exit(tmp_path, with_param("^".join(["2"] * 5000)), capsys)
    assert code == 2
    assert "RecursionError" not in err and "internal error" not in err
    assert err.count("error:") == 1 and "nests too deeply" in err and f"at most {MAX_NESTING} levels" in err
    assert err.startswith(f"{tmp_path / 'long.mech'}:6:")


def test_the_nesting_limit_error_points_at_the_first_level_too_deep():
    tower = "^".join(["c"] * 200)
    try:
        parse(with_param(tower))
    except SpecError as error:
        (diagnostic,) = error.diagnostics
    else:
        raise AssertionError("a 200-level power parsed")
    # start -> param_const -> pow -> pow ...: the (MAX_NESTING - 2)-th pow is the last node within
    # the limit, its base `c` the first beyond it: c number MAX_NESTING - 2, at column
    # 11 + 2 * (MAX_NESTING - 3) of line 6
    assert (diagnostic.span.line, diagnostic.span.col) == (6, 11 + 2 * (MAX_NESTING - 3))


def test_a_power_tower_below_the_limit_checks():
    assert checked_value("^".join(["1"] * (MAX_NESTING - 5))) == 1
    assert checked_value("2^2^2^2") == 2 ** 16  # right-associative: 2^(2^(2^2))


def test_an_exact_power_too_large_to_compute_is_an_error(tmp_path, capsys):
    code, err = check_exit(tmp_path, with_param("2^2000000"), capsys)
    assert code == 2 and "too large to compute exactly" in err and "6:11" in err


def test_a_tower_of_numbers_beyond_float64_is_refused_where_it_leaves_float64(tmp_path, capsys):
    code, err = check_exit(tmp_path, with_param("2^2^2^2^2^2"), capsys)  # 2^(2^65536): 2^65536 leaves float64
    assert code == 2 and "6:13: error: this value is beyond float64" in err


def test_nested_functions_of_numbers_beyond_float64_do_not_hang(tmp_path, capsys):
    """exp^7(0.01) = e^(10^(2.3e6)): SymPy computed it exactly as it was built (check never finished)."""
    code, err = check_exit(tmp_path, with_param("exp(exp(exp(exp(exp(exp(exp(0.01)))))))"), capsys)
    assert code == 2 and "6:19: error: this value is beyond float64" in err
