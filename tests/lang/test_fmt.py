"""`fmt`: canonical, idempotent, meaning-preserving, and it never loses a comment.

Golden pairs pin the layout; properties check that re-laid-out specs and random
expressions read back as the same tree; the last section drives `mechdsl fmt`.
"""

from __future__ import annotations

import os
import re
import stat
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mechdsl.cli import fmt_cmd
from mechdsl.cli.main import main
from mechdsl.lang import ast, check, load_source, parse
from mechdsl.lang.fmt import format_expr, format_spec
from mechdsl.lang.parser import _lark
from spec_samples import BUNDLED, ROOT, TINY, meaning


def fmt(source: str) -> str:
    return format_spec(parse(source))


def assert_formats_faithfully(source: str, *, checks: bool = True) -> str:
    """fmt(source) reads back as the same statements (and model), keeps every comment, and
    formatting it again changes nothing. Returns the canonical text."""
    spec = parse(source)
    text = format_spec(spec)
    again = parse(text)
    assert again.statements == spec.statements
    assert Counter(c.text.rstrip() for c in again.comments) == Counter(c.text.rstrip() for c in spec.comments)
    assert format_spec(again) == text
    if checks:
        assert meaning(check(again)) == meaning(check(spec))
    return text


# ================================================================ bundled specs
@pytest.mark.parametrize("path", BUNDLED, ids=[p.name for p in BUNDLED])
def test_bundled_spec_formats_faithfully(path):
    assert_formats_faithfully(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", sorted(ROOT.glob("specs/*.mech")), ids=lambda p: p.name)
def test_bundled_specs_are_already_canonical(path):
    source = path.read_text(encoding="utf-8")
    assert fmt(source) == source


# ================================================================ golden layout
GOLDEN = [
    pytest.param("param a=-b^2\n", "param a = -b^2\n", id="unary-minus-below-power"),
    pytest.param("param a = -(b^2)\n", "param a = -b^2\n", id="redundant-parens-dropped"),
    pytest.param("param a = (-b)^2\n", "param a = (-b)^2\n", id="negated-base-keeps-parens"),
    pytest.param("param a = a^b^c + (a^b)^c\n", "param a = a^b^c + (a^b)^c\n", id="power-right-assoc"),
    pytest.param("param a = 2^-T*x + 10^(-(a+1)/2)\n", "param a = 2^-T * x + 10^(-(a + 1) / 2)\n",
                 id="negative-exponents"),
    pytest.param("param a = a-(b-c) + (a-b)-c + a/(b*c) + (a/b)*c + a*(b/c)\n",
                 "param a = a - (b - c) + (a - b) - c + a / (b * c) + a / b * c + a * (b / c)\n",
                 id="associativity"),
    pytest.param("param a = ((x))*(y+z)*-w - --v + +u\n", "param a = x * (y + z) * -w - --v + u\n",
                 id="signs"),
    pytest.param("param a = 1.50 + 1e-23 + .5 + 2E+3\n", "param a = 1.50 + 1e-23 + .5 + 2E+3\n",
                 id="numbers-as-written"),
    pytest.param("let Q( T,x )=max(T ,x)+ sum( k in K ,p[ k,0 ] )\n",
                 "let Q(T, x) = max(T, x) + sum(k in K, p[k, 0])\n", id="calls-and-sums"),
    pytest.param("period 1 discount beta { type th prob p  menu T, R }\n",
                 "period 1 discount beta {\n  type th prob p\n  menu T, R\n}\n", id="period-block"),
    pytest.param('train{algorithm=edmsac steps = 3 preset="paper"}\n',
                 'train {\n  algorithm = edmsac\n  steps = 3\n  preset = "paper"\n}\n', id="train-block"),
    pytest.param("constraint ir\nconstraint  ir   per_period\nconstraint monotone T1,T2\n"
                 "constraint T[k]>=1 for k in K,j in K\n",
                 "constraint ir\nconstraint ir per_period\nconstraint monotone T1, T2\n"
                 "constraint T[k] >= 1 for k in K, j in K\n",
                 id="constraints"),
    pytest.param("mechanism m size K=2 in {2,3}\n", "mechanism m\nsize K = 2 in {2, 3}\n",
                 id="one-statement-per-line"),
    pytest.param("\n\n# head\n\n\n\nparam a = 1\n\n\nparam b = 2\nparam c = 3\n\n\n",
                 "# head\n\nparam a = 1\n\nparam b = 2\nparam c = 3\n", id="blank-lines"),
    pytest.param("param a=1   # one\nparam bb = 2 # two\nparam c = 3          # three\n",
                 "param a = 1  # one\nparam bb = 2  # two\nparam c = 3          # three\n",
                 id="trailing-comments"),
    pytest.param("param a = 1\n# last words", "param a = 1\n# last words\n", id="comment-at-end-without-newline"),
    pytest.param("param a = 1 +   # mid\n  2  # end\n", "# mid\nparam a = 1 + 2  # end\n",
                 id="comment-inside-statement"),
    pytest.param("period 1 {  # first\n\n  # about the types\n  type th prob p   # types\n  menu T, R\n"
                 "  # closing remark\n\n}  # done\n",
                 "period 1 {  # first\n  # about the types\n  type th prob p   # types\n  menu T, R\n"
                 "  # closing remark\n}  # done\n", id="comments-in-blocks"),
    pytest.param("", "", id="empty"),
    pytest.param("types th[K]=[3,4.05 , 4.6]\nprob p2[K,K]=[[0.7,0.3],[ 0.2,0.8 ]]\nprob q[K,K] = [0.5,0.5,1,0]\n",
                 "types th[K] = [3, 4.05, 4.6]\nprob p2[K, K] = [[0.7, 0.3], [0.2, 0.8]]\nprob q[K, K] = [0.5, 0.5, 1, 0]\n",
                 id="list-literals-as-written"),
    pytest.param("payment t[K]   from  consumer in[0,1]\npayment r[K] to boss>=0\n",
                 "payment t[K] from consumer in [0, 1]\npayment r[K] to boss >= 0\n", id="payment-directions"),
]


@pytest.mark.parametrize(("source", "expected"), GOLDEN)
def test_golden_layout(source, expected):
    assert fmt(source) == expected
    assert fmt(expected) == expected
    assert parse(expected).statements == parse(source).statements


# ================================================================ tricky snippets in a full spec
TRICKY = {
    "precedence": "let z = -c^2 + (c^2)^3 - (c - (c - 1)) / (c * (2 + c)) + c^c^2\n",
    "negative-powers": "let w = c^-2 + 10^(-c / 2) + (-c)^2 + 2^-(c + 1)\n",
    "comments": "# own line\nlet v = c + 1   # trailing\n\n\n# before the objective\n",
    "packed-layout": "let u = c*(1-c) let s = u/(u+1)\n",
}


@pytest.mark.parametrize("name", TRICKY)
def test_tricky_snippets_keep_their_meaning(name):
    base = TINY.read_text(encoding="utf-8")
    source = base.replace("utility worker", TRICKY[name] + "utility worker", 1)
    text = assert_formats_faithfully(source)
    assert load_source(text).derived.keys() == load_source(source).derived.keys()


def test_trailing_comment_at_end_of_file_without_newline():
    source = TINY.read_text(encoding="utf-8") + "# the end"
    assert assert_formats_faithfully(source).endswith("steps = 10\n}\n# the end\n")


# ================================================================ properties
SEPARATORS = [" ", "  ", "\t", "\n", "\n\n\n", " # note\n", "\n# own line\n", "  # after code\n\n",
              "\r\n", "\f", " \r ", "\n \t\n"]


@st.composite
def relaid_out(draw) -> str:
    """A bundled spec with the same tokens but random spacing, line breaks and comments."""
    source = draw(st.sampled_from([p.read_text(encoding="utf-8") for p in BUNDLED]))
    tokens = [t for t in _lark().lex(source, dont_ignore=True) if t.type not in ("WS", "COMMENT")]
    pieces = []
    for token in tokens:
        pieces.append(str(token))
        pieces.append(draw(st.sampled_from(SEPARATORS)))
    return "".join(pieces)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(relaid_out())
def test_any_layout_of_a_bundled_spec_formats_to_the_same_spec(source):
    assert_formats_faithfully(source)


UNKNOWN = ast.Span.unknown()
NAMES = st.sampled_from(["a", "b", "theta", "T1"])
NUMBERS = st.sampled_from(["0", "2", "2.5", "1e-3", ".5", "10"]).map(lambda t: ast.Number(UNKNOWN, float(t), t))


def _chain(first: ast.Expr, rest: list) -> ast.OperatorChain:
    """The tree the parser builds for first op x op y ...: a chain of the same level in
    front is one with it (`(a - b) + c` reads as `a - b + c`)."""
    if isinstance(first, ast.OperatorChain) and (first.rest[0][0] in "+-") == (rest[0][0] in "+-"):
        return ast.OperatorChain(UNKNOWN, first.first, first.rest + tuple(rest))
    return ast.OperatorChain(UNKNOWN, first, tuple(rest))


def _negate(operand: ast.Expr, count: int) -> ast.Negate:
    """The tree the parser builds for `count` minus signs before `operand` (`-(-x)` is `--x`)."""
    if isinstance(operand, ast.Negate):
        return ast.Negate(UNKNOWN, operand.operand, operand.count + count)
    return ast.Negate(UNKNOWN, operand, count)


def _expressions():
    """Random expression trees over every node type (built directly, not parsed)."""
    leaves = st.one_of(NUMBERS, NAMES.map(lambda n: ast.Name(UNKNOWN, n)))

    def grow(children):
        some = st.lists(children, min_size=1, max_size=2).map(tuple)
        return st.one_of(
            st.builds(_chain, children, st.lists(st.tuples(st.sampled_from("+-"), children), min_size=1, max_size=3)),
            st.builds(_chain, children, st.lists(st.tuples(st.sampled_from("*/"), children), min_size=1, max_size=3)),
            st.builds(lambda a, b: ast.BinaryOp(UNKNOWN, "^", a, b), children, children),
            st.builds(_negate, children, st.integers(1, 3)),
            st.builds(lambda f, args: ast.Call(UNKNOWN, f, args), st.sampled_from(["log", "Q", "max"]), some),
            st.builds(lambda n, indices: ast.Subscript(UNKNOWN, n, indices), NAMES, some),
            st.builds(lambda body: ast.IndexedSum(UNKNOWN, ast.Binding("k", "K", UNKNOWN), body), children),
        )

    return st.recursive(leaves, grow, max_leaves=12)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(_expressions())
def test_printed_expressions_parse_back_to_the_same_tree(expr):
    text = format_expr(expr)
    (statement,) = parse(f"let z = {text}").statements
    assert statement.value == expr, text


# ================================================================ mechdsl fmt
@pytest.fixture
def messy(tmp_path):
    path = tmp_path / "messy.mech"
    path.write_text(TINY.read_text(encoding="utf-8").replace("param N = 4", "param N=4   # four"), encoding="utf-8")
    return path


def test_fmt_prints_the_canonical_text(messy, capsys):
    assert main(["fmt", str(messy)]) == 0
    assert capsys.readouterr().out == fmt(messy.read_text(encoding="utf-8"))


def test_fmt_check(messy, capsys):
    canonical = ROOT / "specs" / "two_period.mech"
    assert main(["fmt", "--check", str(canonical)]) == 0
    assert capsys.readouterr().err == ""
    assert main(["fmt", "--check", str(messy)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(messy) in err and "canonical" in err


def test_fmt_check_flags_windows_line_endings(tmp_path, capsys):
    path = tmp_path / "crlf.mech"
    path.write_bytes(TINY.read_text(encoding="utf-8").replace("\n", "\r\n").encode())
    assert main(["fmt", "--check", str(path)]) == 1


def test_fmt_write_rewrites_in_place_atomically(messy, capsys):
    os.chmod(messy, 0o640)
    expected = fmt(messy.read_text(encoding="utf-8"))
    assert main(["fmt", "--write", str(messy)]) == 0
    assert messy.read_text(encoding="utf-8") == expected
    assert "param N = 4  # four" in expected
    assert stat.S_IMODE(messy.stat().st_mode) == 0o640
    assert sorted(p.name for p in messy.parent.iterdir()) == ["messy.mech"]  # no temporary left behind
    assert main(["fmt", "--check", str(messy)]) == 0


def test_fmt_write_through_a_symlink_rewrites_the_target(messy, tmp_path):
    link = tmp_path / "link.mech"
    link.symlink_to(messy)
    assert main(["fmt", "--write", str(link)]) == 0
    assert link.is_symlink() and "param N = 4  # four" in messy.read_text(encoding="utf-8")


def test_fmt_write_leaves_a_canonical_file_untouched(tmp_path):
    path = tmp_path / "canonical.mech"
    path.write_text(fmt(TINY.read_text(encoding="utf-8")), encoding="utf-8")
    before = path.stat().st_mtime_ns
    assert main(["fmt", "--write", str(path)]) == 0
    assert path.stat().st_mtime_ns == before


def test_fmt_reports_spec_errors_and_writes_nothing(tmp_path, capsys):
    path = tmp_path / "bad.mech"
    source = TINY.read_text(encoding="utf-8").replace("th * r - c * t", "th * r - cc * t")
    path.write_text(source, encoding="utf-8")
    assert main(["fmt", "--write", str(path)]) == 2
    assert re.search(rf"^{re.escape(str(path))}:12:37: error: 'cc' is not defined", capsys.readouterr().err, re.M)
    assert path.read_text(encoding="utf-8") == source


def test_fmt_never_writes_text_that_changes_the_spec(messy, monkeypatch, capsys):
    original = messy.read_text(encoding="utf-8")
    monkeypatch.setattr(fmt_cmd, "format_spec", lambda spec: format_spec(spec).replace("param N = 4", "param N = 5"))
    assert main(["fmt", "--write", str(messy)]) == 3
    assert "internal error" in capsys.readouterr().err
    assert messy.read_text(encoding="utf-8") == original
    assert sorted(p.name for p in messy.parent.iterdir()) == ["messy.mech"]


def test_fmt_missing_file(tmp_path, capsys):
    assert main(["fmt", str(tmp_path / "nope.mech")]) == 2
    assert "no such spec file" in capsys.readouterr().err
