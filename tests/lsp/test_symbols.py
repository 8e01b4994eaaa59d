"""The symbol index (pure Python, no server): declarations, uses, local scopes, comments."""

from __future__ import annotations

from pathlib import Path

from mechdsl.lang import parse
from mechdsl.lsp.hover import declaration_markdown
from mechdsl.lsp.symbols import SymbolIndex, tokens

ROOT = Path(__file__).resolve().parents[2]


def index_of(name: str) -> tuple[SymbolIndex, list[str]]:
    text = (ROOT / "specs" / name).read_text(encoding="utf-8")
    return SymbolIndex(parse(text, name)), text.split("\n")


def line_of(lines: list[str], start: str) -> int:
    return next(i for i, line in enumerate(lines, start=1) if line.startswith(start))


def test_a_utility_parameter_shadows_the_global_of_the_same_name():
    index, lines = index_of("static_contract.mech")  # utility iiot(psi, s, r) = rho * psi * r - c * s - c0
    utility = line_of(lines, "utility iiot(")
    body_r = lines[utility - 1].rindex(" r ") + 2
    occurrence = index.at(utility, body_r)
    assert occurrence.declaration.local and occurrence.declaration.site.line == utility
    assert occurrence.declaration.site.col == lines[utility - 1].index("r)") + 1
    maximize = line_of(lines, "maximize")
    global_r = index.at(maximize, lines[maximize - 1].index("r[k]") + 1)
    assert not global_r.declaration.local and global_r.declaration.site.line == line_of(lines, "payment r[K]")
    assert [t.line for t in index.uses(global_r.declaration)] == [line_of(lines, "payment r[K]"),
                                                                  line_of(lines, "  menu s, r"), maximize]


def test_sum_index_is_local_to_its_sum_and_names_in_comments_are_not_uses():
    index, lines = index_of("two_period.mech")
    u2 = line_of(lines, "let U2 =")
    inner_j = index.at(u2, lines[u2 - 1].index("p2[k, j]") + 7)
    assert inner_j.declaration.local and inner_j.declaration.site.col == lines[u2 - 1].index("j in K") + 1
    assert "k" not in index.declarations and "j" not in index.declarations
    # `theta1[0]` is written in a comment near the top; only code counts
    assert all(not lines[t.line - 1].lstrip().startswith("#") for t in index.uses(index.declarations["theta1"]))
    assert [t.text for t in tokens('train { x = "a b"  # c d\n}')] == ["train", "x"]


def test_hover_of_a_declaration_names_its_kind_shape_distribution_and_comment():
    index, _ = index_of("two_period.mech")
    text = declaration_markdown(index, index.declarations["p2"])
    assert text.startswith("**type probabilities (random)** `p2` · shape [K, K] · ~ dirichlet(1)")
    assert "prob p2[K, K] ~ dirichlet(1)" in text
    assert "each row k: period-2 type given period-1 type k" in text
    text = declaration_markdown(index, index.declarations["theta1"])
    assert "indexed [k in K]" in text and "~ uniform(15 + 5 * k, 20 + 5 * k)" in text


def test_constraint_labels_and_the_sides_of_a_game_auction_are_declarations():
    index, lines = index_of("agent_migration.mech")
    c22b = index.declarations["c22b"]
    assert (c22b.site.line, c22b.site.col) == (line_of(lines, "constraint c22b:"), len("constraint ") + 1)
    assert "```mech\nconstraint c22b: sum(v in V, host[v, s] * alpha[s, v]) <= 1" in declaration_markdown(index, c22b)
    index, lines = index_of("iot_offloading.mech")
    seller = index.declarations["AA"]
    assert seller.site.line == line_of(lines, "  seller AA[")
    assert declaration_markdown(index, seller).startswith("**seller** `AA` · indexed [m in M] · ~ uniform(")
