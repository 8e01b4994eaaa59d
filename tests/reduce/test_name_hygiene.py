"""Name hygiene (issue 29): no user identifier can mean an internal symbol of the compiler.

The derivation once solved u(theta, x, y) = v for y with v = Symbol("v", real=True), the very
symbol of a spec's `v`; `utility bidder(v, Q, t) = v * Q - t` then derived t[0] = 0, a wrong
contract with exit 0. Internal symbols are now SymPy Dummies, so renaming any user identifier
to a name the compiler uses inside must change `mechdsl derive --json` by that renaming only.

Internal names, from every `Symbol(`/`symbols(` of mechdsl/ that is not a user's:
  v, y, theta, x       reduce/payment_inverse.py: the utility level v of phi(theta, x, v) and
                       the stand-ins for the payment and a positive type (single_crossing.py too)
  a0                   solve/certificate.py: the arguments of a lambdified function
  t_0                  codegen/printer.py: cse temporaries (cse skips names in its input)
  lambda_budget        games/follower.py: the budget multiplier,
  _state_0             and the placeholders of state-only subexpressions
(`slot`, the scenario slot counter, is a name the scenario checker refuses.)
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path

import pytest
import sympy as sp

from mechdsl.cli.derive_cmd import to_json
from mechdsl.lang import ast, checker_for, load_source, parse
from mechdsl.lang.checker import ContractChecker
from mechdsl.reduce import derive

ROOT = Path(__file__).resolve().parents[2]
AUCTION = Path(__file__).with_name("auction_reduced_form.mech")
INTERNAL_NAMES = ("v", "y", "theta", "x", "a0", "t_0", "lambda_budget", "_state_0")
SAMPLED_PAIRS = 2  # per bundled spec, on top of every utility name renamed to `v` (a derive: 0.2-2 s)
WORD = r"[A-Za-z0-9_]"


def _code(source: str) -> str:
    """The spec without its comments (a comment may say `v` without the spec using it)."""
    return re.sub(r"#[^\n]*", "", source)


def _contract_specs() -> list[Path]:
    paths = sorted([*ROOT.glob("specs/*.mech"), *ROOT.glob("examples/*.mech")])
    return [p for p in paths if checker_for(parse(p.read_text(encoding="utf-8"), str(p))) is ContractChecker]


CONTRACT_SPECS = _contract_specs()


def _identifiers(source: str) -> tuple[list[str], list[str]]:
    """(every declared name and bound parameter, the names the utility statement uses)."""
    statements = parse(source).statements
    names = {s.name for s in statements if isinstance(getattr(s, "name", None), str)}
    utility = next(s for s in statements if isinstance(s, ast.UtilityDecl))
    names |= set(utility.params) | {p for s in statements if isinstance(s, ast.LetFunction) for p in s.params}
    line = _code(source).splitlines()[utility.span.line - 1].split("(", 1)[1]  # after `utility AGENT`
    used = {w for w in re.findall(rf"{WORD}+", line) if w in names}
    return sorted(names), sorted(used)


def _uses(source: str, name: str) -> bool:
    return re.search(rf"(?<!{WORD}){name}(?!{WORD})", _code(source)) is not None


def _rename(text: str, old: str, new: str) -> str:
    """Every whole-word `old` -> `new`; also `d<old>` after a slash (`dMRS/dtheta`)."""
    return re.sub(rf"(?:(?<=/d)|(?<!{WORD})){re.escape(old)}(?!{WORD})", new, text)


def _pairs(source: str, seed: str) -> list[tuple[str, str]]:
    """(identifier, internal name) pairs to try: every name of the utility statement renamed to
    `v` (the collision that was live), then SAMPLED_PAIRS more, drawn with a fixed seed."""
    names, utility_names = _identifiers(source)
    free = [i for i in INTERNAL_NAMES if not _uses(source, i)]
    first = [(n, "v") for n in utility_names if "v" in free]
    rest = [(n, i) for n in names for i in free if (n, i) not in first]
    random.Random(seed).shuffle(rest)
    return first + rest[:SAMPLED_PAIRS]


def _derivation_json(source: str, path: str) -> dict:
    data = to_json(derive(load_source(source, path)))
    for step in data["steps"]:
        del step["seconds"]
    return data


def _expression(srepr: str, back=lambda name: name) -> sp.Expr:
    """A `derive --json` formula, its symbols renamed by `back`; Max and Min kept unevaluated
    (in canonical argument order), as the derivation builds them."""
    def symbol(name, **assumptions):
        return sp.Symbol(back(name), **assumptions)
    namespace = {**vars(sp), "Symbol": symbol,
                 "Max": lambda *a: sp.Max(*a, evaluate=False), "Min": lambda *a: sp.Min(*a, evaluate=False)}
    return eval(srepr, namespace)  # our own srepr output


def _same_expression(a: sp.Expr, b: sp.Expr) -> bool:
    """Equal, or equal at three random points (an equivalent form SymPy built in another order)."""
    if a == b:
        return True
    if a.free_symbols != b.free_symbols:
        return False
    rng = random.Random(0)
    for _ in range(3):
        point = {s: sp.Float(rng.uniform(1.0, 2.0)) for s in sorted(a.free_symbols, key=str)}
        if abs(complex(sp.N(a.xreplace(point) - b.xreplace(point)))) > 1e-9 * (1 + abs(complex(sp.N(a.xreplace(point))))):
            return False
    return True


def _tokens(text: str) -> Counter:
    """The words and symbols of a message, in any order (its formulas print in name order)."""
    return Counter(re.findall(rf"{WORD}+(?:\[[^\]]*\])?|\S", text))


def _assert_same_up_to_renaming(original: dict, renamed: dict, internal: str, name: str) -> None:
    assert "Dummy" not in json.dumps(renamed), "an internal Dummy leaked into the derivation"

    def back(text):
        return _rename(text, internal, name)

    def same(a, b):
        return _same_expression(_expression(a), _expression(b, back))

    assert back(renamed["mechanism"]) == original["mechanism"]
    crossing, renamed_crossing = original["single_crossing"], renamed["single_crossing"]
    assert (crossing["holds"], crossing["method"]) == (renamed_crossing["holds"], renamed_crossing["method"])
    assert _tokens(crossing["message"]) == _tokens(back(renamed_crossing["message"]))
    assert list(original["payments"]) == [back(k) for k in renamed["payments"]]
    for (key, rule), other in zip(original["payments"].items(), renamed["payments"].values()):
        assert same(rule["rule"], other["rule"]), f"rule of {key}: {rule['text']} vs {other['text']}"
        assert same(rule["closed_form"], other["closed_form"]), f"closed form of {key}"
    assert original["binding"] == [back(b) for b in renamed["binding"]]
    for family in ("monotone", "residual"):
        assert [c["name"] for c in original[family]] == [back(c["name"]) for c in renamed[family]]
        assert all(same(c["g"], d["g"]) for c, d in zip(original[family], renamed[family])), family
    assert original["reduced_constraints"] == renamed["reduced_constraints"]
    assert list(original["payment_ranges"]) == [back(k) for k in renamed["payment_ranges"]]
    for r, s in zip(original["payment_ranges"].values(), renamed["payment_ranges"].values()):
        assert (r["slack"], r["text"]) == (s["slack"], back(s["text"]))
        assert same(r["floor"], s["floor"])
        assert (r["ceiling"] is None) == (s["ceiling"] is None)
        assert r["ceiling"] is None or same(r["ceiling"], s["ceiling"])
    assert [s["name"] for s in original["steps"]] == [back(s["name"]) for s in renamed["steps"]]
    for step, other in zip(original["steps"], renamed["steps"]):
        for part in ("assumed", "proved", "residual"):
            assert [_tokens(t) for t in step[part]] == [_tokens(back(t)) for t in other[part]], (step["name"], part)


def _check_renamings(path: Path, pairs: list[tuple[str, str]]) -> None:
    source = _code(path.read_text(encoding="utf-8"))
    original = _derivation_json(source, path.name)
    for name, internal in pairs:
        renamed = _derivation_json(_rename(source, name, internal), path.name)
        try:
            _assert_same_up_to_renaming(original, renamed, internal, name)
        except AssertionError as error:
            raise AssertionError(f"{path.name}: renaming '{name}' to '{internal}' changed the derivation: "
                                 f"{error}") from None


# ---------------------------------------------------------------- the auction that showed it

def _auction_symbols(model):
    v, Q, t = (model.types["v"].symbols(), model.variables["Q"].symbols(), model.variables["t"].symbols())
    return v, Q, t


def test_auction_with_a_type_named_v_charges_the_highest_prices_the_bidder_accepts():
    """u = v Q - t, types v[0] < v[1]: the lowest type's IR and the local downward IC bind,
    so t[0] = v[0] Q[0] and t[1] = t[0] + v[1] (Q[1] - Q[0]) (Laffont-Martimort ch. 2)."""
    model = load_source(AUCTION.read_text(encoding="utf-8"), AUCTION.name)
    v, Q, t = _auction_symbols(model)
    derivation = derive(model)
    assert derivation.rules[t[0]] == Q[0] * v[0]
    assert sp.expand(derivation.rules[t[1]] - (t[0] + v[1] * (Q[1] - Q[0]))) == 0
    assert sp.expand(derivation.payment("t", 1) - (Q[0] * v[0] + v[1] * (Q[1] - Q[0]))) == 0


def test_auction_payments_do_not_depend_on_the_type_vector_name():
    renamed = _rename(AUCTION.read_text(encoding="utf-8"), "v", "val")
    model = load_source(renamed, AUCTION.name)
    val, Q, t = model.types["val"].symbols(), model.variables["Q"].symbols(), model.variables["t"].symbols()
    derivation = derive(model)
    assert derivation.rules[t[0]] == Q[0] * val[0]
    assert sp.expand(derivation.rules[t[1]] - (t[0] + val[1] * (Q[1] - Q[0]))) == 0


def test_auction_every_identifier_renamed_to_every_internal_name():
    source = AUCTION.read_text(encoding="utf-8")
    names, _ = _identifiers(source)
    pairs = [(n, i) for n in names for i in INTERNAL_NAMES if not _uses(source, i)]
    assert len(pairs) == len(names) * (len(INTERNAL_NAMES) - 1)  # all but `v`, which the spec uses
    _check_renamings(AUCTION, pairs)


# ---------------------------------------------------------------- every bundled contract

def test_the_bundled_contracts_are_found():
    assert {p.name for p in CONTRACT_SPECS} >= {"static_contract.mech", "two_period.mech", "monopoly.mech",
                                                 "concave_payment.mech", "three_period.mech"}


def test_every_internal_name_is_tried():
    """The auction tries every internal name but its own `v`; each bundled spec that does not
    use `v` renames every name of its utility statement to `v`."""
    auction = AUCTION.read_text(encoding="utf-8")
    assert {i for i in INTERNAL_NAMES if not _uses(auction, i)} == set(INTERNAL_NAMES) - {"v"}
    for path in CONTRACT_SPECS:
        source = path.read_text(encoding="utf-8")
        assert _uses(source, "v") or {n for n, i in _pairs(source, path.name) if i == "v"} >= set(_identifiers(source)[1])


@pytest.mark.parametrize("path", CONTRACT_SPECS, ids=[p.stem for p in CONTRACT_SPECS])
def test_renaming_an_identifier_to_an_internal_name_changes_only_the_names(path):
    _check_renamings(path, _pairs(path.read_text(encoding="utf-8"), path.name))


# ---------------------------------------------------------------- the comparison itself

def test_the_comparison_sees_a_changed_payment():
    """A wrong derivation must fail the comparison: the renaming check is not vacuous."""
    source = AUCTION.read_text(encoding="utf-8")
    original = _derivation_json(source, AUCTION.name)
    changed = _derivation_json(source.replace("v * Q - t", "v * Q - t - 1"), AUCTION.name)
    with pytest.raises(AssertionError, match="rule of t"):
        _assert_same_up_to_renaming(original, changed, "v", "v")


def test_rename_keeps_longer_words_and_renames_derivative_labels():
    assert _rename("v[0] + val * v - dMRS/dv", "v", "theta") == "theta[0] + val * theta - dMRS/dtheta"
