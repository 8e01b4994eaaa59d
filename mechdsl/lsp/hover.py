"""Hover text (Markdown) of a name: its declaration, and on a contract item its derivation.

For every declared name: the declaring statement as written, a line saying what it is (kind,
shape, bounds, distribution) and the comments written above it and after it. For an
allocation or payment of a contract, `mechdsl derive`'s result (`mechdsl.lsp.derivations`):
the least payment of each entry (closed form where `derive` shows one, else its recursive
rule) and the constraints that bind; or that the derivation is still running.
"""

from __future__ import annotations

import textwrap

from mechdsl.lang import ast
from mechdsl.lang.fmt import format_expr
from mechdsl.lsp.derivations import ContractDerivation
from mechdsl.lsp.symbols import Declaration, SymbolIndex, what_is


def _distribution(distribution: ast.Distribution) -> str:
    return f"{distribution.name}({', '.join(format_expr(a) for a in distribution.args)})"


def facts(statement: ast.Statement) -> list[str]:
    """Shape, bounds and distribution of a declaring statement, in words."""
    found = []
    shape = getattr(statement, "shape", None)
    if shape:
        found.append(f"shape [{', '.join(shape)}]")
    bindings = getattr(statement, "bindings", None) or ()
    binding = getattr(statement, "binding", None)
    indexed = (binding,) if isinstance(binding, ast.Binding) else bindings
    if indexed:
        found.append(f"indexed [{', '.join(f'{b.index} in {b.size}' for b in indexed)}]")
    if isinstance(statement, ast.TypesFixed):
        found.append(f"shape [{statement.size}]")
    lower, upper = getattr(statement, "lower", None), getattr(statement, "upper", None)
    if isinstance(lower, ast.Expr):
        found.append(f"in [{format_expr(lower)}, {format_expr(upper)}]" if isinstance(upper, ast.Expr)
                     else f">= {format_expr(lower)}")
    distribution = getattr(statement, "distribution", None) or getattr(statement, "init", None)
    if isinstance(distribution, ast.Distribution):
        found.append(f"~ {_distribution(distribution)}")
    if isinstance(statement, ast.SizeDecl):
        found.append(f"= {statement.value}")
    flow = getattr(statement, "flow", None)
    if isinstance(flow, ast.MoneyFlow):
        found.append(f"{flow.word} {flow.party}")
    return found


def declaration_markdown(index: SymbolIndex, declaration: Declaration) -> str:
    """What a name is, where it was declared, and what its author wrote about it."""
    if declaration.local:
        return (f"**{declaration.name}**: local name, bound at line {declaration.site.line} in\n\n"
                + _code(index.statement_text(declaration.statement)))
    statement = declaration.statement
    head = " · ".join([f"**{what_is(statement)}** `{declaration.name}`", *facts(statement)])
    parts = [head, _code(index.statement_text(statement))]
    comments = index.comments_of(declaration)
    if comments:
        parts.append("\n".join(comments))
    return "\n\n".join(parts)


def derivation_markdown(name: str, derivation: ContractDerivation | None, *, running: bool) -> str:
    """The derivation part of a contract item's hover (`mechdsl derive`)."""
    if running:
        return "*derivation running (`mechdsl derive`); hover again in a moment*"
    if derivation is None:
        return "*no derivation: the spec has errors (see the diagnostics)*"
    if derivation.refused:
        return f"*{derivation.refused}*"
    parts = []
    entries = derivation.payments.get(name, ())
    if entries:
        lines = [f"{derivation.rule_name.capitalize()} (`mechdsl derive`):", "```"]
        for entry in entries:
            note = "" if entry.form == "closed form" else f"    # {entry.form}"
            lines.append(f"{entry.entry} = {entry.formula}{note}")
        lines.append("```")
        parts.append("\n".join(lines))
    if derivation.binding:
        parts.append("Binding constraints:\n" + "\n".join(f"- {b}" for b in derivation.binding))
    return "\n\n".join(parts)


def _code(text: str) -> str:
    return f"```mech\n{textwrap.dedent(text)}\n```"
