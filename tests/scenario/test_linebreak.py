"""Breaking long generated statements (mechdsl/scenario/linebreak.py): the broken lines
stay within the limit and mean the same code; strings are never split."""

from __future__ import annotations

import ast

from mechdsl.scenario.linebreak import wrap


def test_a_long_expression_is_parenthesised_and_broken_before_operators():
    line = "value = " + " + ".join(f"torch.exp(x_{k} * 2.0)" for k in range(20)) + "  # a comment"
    lines = wrap(line, limit=60)
    assert all(len(w) <= 60 for w in lines) and len(lines) > 3
    assert lines[0] == "    # a comment"
    joined = "\n".join(w[4:] for w in lines[1:])
    assert ast.dump(ast.parse(joined)) == ast.dump(ast.parse(line.split("  #")[0]))


def test_items_inside_an_enclosing_bracket_break_after_commas_not_inside_strings():
    names = [f"'rep[{u}, {s}]'" for u in range(8) for s in range(4)]
    lines = wrap(" ".join(n + "," for n in names), inside=True, limit=50)
    assert all(len(w) <= 50 for w in lines)
    assert ast.literal_eval("(" + "\n".join(lines) + ")") == tuple(n.strip("'") for n in names)


def test_a_short_line_is_kept():
    assert wrap("x = 1") == ["    x = 1"]
