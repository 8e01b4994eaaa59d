"""Canonical formatter: `ast.Spec` -> `.mech` text (what `mechdsl fmt` prints).

The layout is a function of the tree; from the source it keeps only the comments, the
blank-line separation, the column of a trailing comment, and whether `constraint ir`
spelled out its default scope.

* One statement per line; `period` and `train` blocks open with `{` on the statement's
  line, put each item on its own line indented by two spaces and close with `}` alone.
* Expressions: one space around `+ - * /`, none around `^` (the way the specs write
  `f^2`), `, ` between arguments, and only the parentheses the grammar needs to read the
  same tree back: `^` is right-associative and binds tighter than unary minus (`-a^2` is
  `-(a^2)`), its left operand is an atom; `a - (b - c)` and `a / (b * c)` keep theirs.
  Numbers are printed as written (`Number.text`), and so is `constraint ir` with or
  without its default scope `per_period`.
* A comment on a line of its own stays on its own line, before the statement (or block
  item) that follows it, at that statement's indentation. A comment written after code
  stays a trailing comment of the statement that ends on its line; it keeps its column
  when the code before it is already canonical and at least two spaces away (so aligned
  comment columns survive), and otherwise sits two spaces after the code. A trailing
  comment inside a statement that continues on later lines moves before that statement.
* One or more blank lines between two statements or comments become one blank line;
  blank lines at the start of the file or of a block and at the end of a block go.

`parse(format_spec(spec))` has the same statements as `spec` (spans aside), and
formatting is idempotent; `tests/lang/test_fmt.py` checks both on every bundled spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from mechdsl.lang import ast

INDENT = "  "

# Binding strength of each printed form, as in grammar.lark: additive < multiplicative <
# unary < power < atom.
_ADDITIVE, _MULTIPLICATIVE, _UNARY, _POWER, _ATOM = range(1, 6)

_BINARY_LEVEL = {"+": _ADDITIVE, "-": _ADDITIVE, "*": _MULTIPLICATIVE, "/": _MULTIPLICATIVE, "^": _POWER}


# ================================================================ expressions
def format_expr(node: ast.Expr) -> str:
    """The canonical text of an expression, with the fewest parentheses that parse back to `node`."""
    return _printed(node)[0]


def _operand(node: ast.Expr, level: int) -> str:
    """`node` printed where the grammar accepts only forms binding at least as tightly as `level`."""
    text, own_level = _printed(node)
    return text if own_level >= level else f"({text})"


def _printed(node: ast.Expr) -> tuple[str, int]:
    return _PRINT[type(node)](node)


def _number(node: ast.Number) -> tuple[str, int]:
    return node.text, _ATOM


def _name(node: ast.Name) -> tuple[str, int]:
    return node.name, _ATOM


def _arguments(args: tuple[ast.Expr, ...]) -> str:
    return ", ".join(format_expr(a) for a in args)


def _subscript(node: ast.Subscript) -> tuple[str, int]:
    return f"{node.name}[{_arguments(node.indices)}]", _ATOM


def _call(node: ast.Call) -> tuple[str, int]:
    return f"{node.function}({_arguments(node.args)})", _ATOM


def _binary(node: ast.BinaryOp) -> tuple[str, int]:
    level = _BINARY_LEVEL[node.op]
    if node.op == "^":
        # grammar: power: atom "^" unary  (right-associative, left operand an atom)
        return f"{_operand(node.left, _ATOM)}^{_operand(node.right, _UNARY)}", _POWER
    # grammar: additive: additive "+" multiplicative; multiplicative: multiplicative "*" unary
    return f"{_operand(node.left, level)} {node.op} {_operand(node.right, level + 1)}", level


def _operator_chain(node: ast.OperatorChain) -> tuple[str, int]:
    # grammar: additive: multiplicative ((PLUS | MINUS) multiplicative)+, and the same for
    # * / over unary. The parser reads a bracketed chain of the same level in front into the
    # chain itself, so a `first` of the same level only comes from a hand-built tree: brackets.
    level = _BINARY_LEVEL[node.rest[0][0]]
    pieces = [_operand(node.first, level + 1)]
    pieces += [f"{op} {_operand(operand, level + 1)}" for op, operand in node.rest]
    return " ".join(pieces), level


def _negate(node: ast.Negate) -> tuple[str, int]:
    # grammar: unary: (PLUS | MINUS)+ power (the parser reads `-(-x)` as the run `--x`)
    return "-" * node.count + _operand(node.operand, _POWER), _UNARY


def _binding(node: ast.Binding) -> str:
    return f"{node.index} in {node.size}"


def _indexed_sum(node: ast.IndexedSum) -> tuple[str, int]:
    return f"sum({_binding(node.binding)}, {format_expr(node.body)})", _ATOM


_PRINT: dict[type, Callable[[ast.Expr], tuple[str, int]]] = {
    ast.Number: _number,
    ast.Name: _name,
    ast.Subscript: _subscript,
    ast.Call: _call,
    ast.OperatorChain: _operator_chain,
    ast.BinaryOp: _binary,
    ast.Negate: _negate,
    ast.IndexedSum: _indexed_sum,
}


# ================================================================ statements
def _sweep(values: tuple[ast.Expr, ...] | None) -> str:
    return f" in {{{_arguments(values)}}}" if values else ""


def _distribution(node: ast.Distribution) -> str:
    return f"{node.name}({_arguments(node.args)})"


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(names)


def _bounds(node: ast.VariableDecl) -> str:
    if node.upper is None:
        return f">= {format_expr(node.lower)}"
    return f"in [{format_expr(node.lower)}, {format_expr(node.upper)}]"


def _row(row: ast.ValueRow) -> str:
    return f"[{_arguments(row.values)}]"


def _table(node: ast.ProbFixed) -> str:
    """A fixed probability table as written: one flat list, or a list of rows."""
    return f"[{', '.join(_row(r) for r in node.rows)}]" if node.nested else _row(node.rows[0])


def _flow(flow: ast.MoneyFlow | None) -> str:
    return f" {flow.word} {flow.party}" if flow is not None else ""


def _quantifier(bindings: tuple[ast.Binding, ...]) -> str:
    return f" for {', '.join(_binding(b) for b in bindings)}" if bindings else ""


def format_constraint_body(node: ast.Statement) -> str:
    """The text of a constraint after the `constraint` keyword: `ir per_period`, `T1[k] >= 1 for k in K`."""
    return _STATEMENT[type(node)](node).removeprefix("constraint ")


_STATEMENT: dict[type, Callable[[ast.Statement], str]] = {
    ast.MechanismDecl: lambda s: f"mechanism {s.name}",
    ast.SizeDecl: lambda s: f"size {s.name} = {s.value}{_sweep(s.sweep)}",
    ast.ParamConst: lambda s: f"param {s.name} = {format_expr(s.value)}{_sweep(s.sweep)}",
    ast.ParamRandom: lambda s: f"param {s.name} ~ {_distribution(s.distribution)}",
    ast.LetValue: lambda s: f"let {s.name} = {format_expr(s.value)}",
    ast.LetFunction: lambda s: f"let {s.name}({_names(s.params)}) = {format_expr(s.body)}",
    ast.TypesDecl: lambda s: f"types {s.name}[{_binding(s.binding)}] ~ {_distribution(s.distribution)}",
    ast.ProbRandom: lambda s: f"prob {s.name}[{_names(s.shape)}] ~ {_distribution(s.distribution)}",
    ast.TypesFixed: lambda s: f"types {s.name}[{s.size}] = {_row(s.values)}",
    ast.ProbFixed: lambda s: f"prob {s.name}[{_names(s.shape)}] = {_table(s)}",
    ast.PrincipalDecl: lambda s: f"principal {s.name}",
    ast.AgentDecl: lambda s: f"agent {s.name} count {format_expr(s.count)}",
    ast.UtilityDecl: lambda s: f"utility {s.agent}({_names(s.params)}) = {format_expr(s.body)}",
    ast.VariableDecl: lambda s: f"{s.kind} {s.name}[{_names(s.shape)}]{_flow(s.flow)} {_bounds(s)}",
    ast.ObjectiveDecl: lambda s: f"{s.sense} {format_expr(s.expr)}",
    ast.ConstraintIR: lambda s: f"constraint ir {s.scope}",
    ast.ConstraintIC: lambda s: "constraint ic",
    ast.ConstraintIIC: lambda s: "constraint iic",
    ast.ConstraintMonotone: lambda s: f"constraint monotone {_names(s.names)}",
    ast.ParamRandomIndexed: lambda s: (
        f"param {s.name}[{', '.join(_binding(b) for b in s.bindings)}] ~ {_distribution(s.distribution)}"
    ),
    ast.GameDecl: lambda s: f"game {s.name}",
    ast.PlayerDecl: lambda s: f"{s.role} {s.name}[{_binding(s.binding)}]",
    ast.StrategyDecl: lambda s: f"strategy {s.name}[{_names(s.shape)}] of {s.owner} {_bounds(s)}",
    ast.PlayerUtility: lambda s: f"utility {s.player}[{s.index}] = {format_expr(s.body)}",
    ast.ConstraintPlain: lambda s: (
        f"constraint {format_expr(s.left)} {s.comparator} {format_expr(s.right)}{_quantifier(s.quantifier)}"
    ),
    **{  # scenarios (docs/scenarios.md)
        ast.ScenarioDecl: lambda s: f"scenario {s.name}",
        ast.StateDecl: lambda s: (f"state {s.name}{_index_bindings(s.bindings)} in [{format_expr(s.lower)}, "
                                  f"{format_expr(s.upper)}] {_value_or_draw(s.init)}"),
        ast.ObserveDecl: lambda s: f"observe {_names(s.names)}",
        ast.ActionDecl: lambda s: f"action {s.name}{_index_bindings(s.bindings)} {_action_map(s)}",
        ast.NextDecl: lambda s: (f"next {s.name}{f'[{_names(s.indices)}]' if s.indices else ''} "
                                 f"{_value_or_draw(s.value)}"),
        ast.RewardDecl: lambda s: f"reward {format_expr(s.expr)}",
        ast.MetricDecl: lambda s: f"metric {s.name}{_index_bindings(s.bindings)} = {format_expr(s.expr)}",
        ast.HorizonDecl: lambda s: (f"horizon {format_expr(s.length)}"
                                    + (f" discount {format_expr(s.discount)}" if s.discount is not None else "")),
        ast.ConstraintPenalised: lambda s: (
            f"constraint {s.label}: {format_expr(s.left)} {s.comparator} {format_expr(s.right)}"
            f"{_quantifier(s.quantifier)}" + (" hard" if s.penalty is None else f" penalty {format_expr(s.penalty)}")
        ),
    },
    **{  # auction design
        ast.AuctionDesignDecl: lambda s: f"design auction {s.name}",
        ast.BidderDecl: lambda s: f"bidder {s.name}{_index_bindings(s.bindings)} value ~ {_distribution(s.distribution)}",
        ast.ValuationDecl: lambda s: f"valuation {s.form}" + (f" over {s.items}" if s.items else ""),
    },
}


def _index_bindings(bindings: tuple[ast.Binding, ...]) -> str:
    return f"[{', '.join(_binding(b) for b in bindings)}]" if bindings else ""


def _value_or_draw(value) -> str:
    return f"~ {_distribution(value)}" if isinstance(value, ast.Distribution) else f"= {format_expr(value)}"


def _action_map(node: ast.ActionDecl) -> str:
    if node.kind == "softmax":
        return f"softmax over {node.axis}" + (_choice_rules(node.choice) if node.choice is not None else "")
    if node.kind == "threshold":
        return f"threshold {format_expr(node.level)}"
    if node.kind == "simplex":
        return f"simplex over {node.axis}" + (f" where {format_expr(node.mask)}" if node.mask is not None else "")
    return f"in [{format_expr(node.lower)}, {format_expr(node.upper)}]"


def _choice_rules(rules: ast.ChoiceRules) -> str:
    text = ""
    if rules.mask is not None:
        text += f" where {format_expr(rules.mask.left)}"
        if rules.mask.comparator is not None:
            text += f" {rules.mask.comparator} {format_expr(rules.mask.right)}"
    if rules.fallback is not None:
        text += f" fallback {format_expr(rules.fallback)}"
    if rules.capacity is not None:
        text += f" capacity {format_expr(rules.capacity)}"
    return text


def _period_header(node: ast.PeriodDecl) -> str:
    discount = f" discount {format_expr(node.discount)}" if node.discount is not None else ""
    return f"period {node.number}{discount} {{"


def _period_item(item: ast.PeriodType | ast.PeriodMenu) -> str:
    if isinstance(item, ast.PeriodType):
        return f"type {item.types} prob {item.prob}"
    return f"menu {item.allocation}, {item.payment}"


def _auction_item(item) -> str:
    if isinstance(item, ast.AuctionMechanism):
        return f"mechanism {item.name}"
    if isinstance(item, ast.AuctionStep):
        return f"step {format_expr(item.value)}"
    quantity, private = ("demand", "value") if item.side == "buyer" else ("supply", "cost")
    return (f"{item.side} {item.name}[{_binding(item.binding)}] {quantity} {format_expr(item.quantity)} "
            f"{private} ~ {_distribution(item.distribution)}")


def _train_item(item: ast.TrainItem) -> str:
    value = f'"{item.value}"' if isinstance(item.value, str) else format_expr(item.value)
    return f"{item.name} = {value}"


# ================================================================ layout
@dataclass
class _Line:
    """One output line of code and the source lines it was printed from."""

    depth: int
    text: str
    first: int
    last: int
    opens_block: bool = False
    closes_block: bool = False
    trailing: ast.Comment | None = None
    leading: list[ast.Comment] = field(default_factory=list)


class _Source:
    """The source text by line, numbered as Lark numbers them (only "\n" ends a line)."""

    def __init__(self, text: str):
        self.text = text
        self.lines = [line.rstrip("\r") for line in text.split("\n")]
        self.offsets = [0]
        for line in text.split("\n"):
            self.offsets.append(self.offsets[-1] + len(line) + 1)

    def line(self, number: int) -> str:
        return self.lines[number - 1] if 1 <= number <= len(self.lines) else ""

    def text_of(self, span: ast.Span) -> str:
        start = self.offsets[span.line - 1] + span.col - 1
        return self.text[start:self.offsets[span.end_line - 1] + span.end_col - 1]

    def is_blank(self, number: int) -> bool:
        return 1 <= number <= len(self.lines) and not self.lines[number - 1].strip()

    def brace_line(self, span: ast.Span) -> int:
        """The line of the first `{` at or after the start of `span`, skipping comments."""
        position = self.offsets[span.line - 1] + span.col - 1
        in_comment = False
        for char in self.text[position:]:
            if char == "\n":
                in_comment = False
            elif char == "#":
                in_comment = True
            elif char == "{" and not in_comment:
                break
            position += 1
        return self.text.count("\n", 0, position) + 1


def _block_lines(header: str, node: ast.Statement, items, item_text, source: _Source) -> list[_Line]:
    span = node.span
    lines = [_Line(0, header, span.line, source.brace_line(span), opens_block=True)]
    lines += [_Line(1, item_text(i), i.span.line, i.span.end_line) for i in items]
    lines.append(_Line(0, "}", span.end_line, span.end_line, closes_block=True))
    return lines


def _statement_lines(node: ast.Statement, source: _Source) -> list[_Line]:
    if isinstance(node, ast.PeriodDecl):
        return _block_lines(_period_header(node), node, node.items, _period_item, source)
    if isinstance(node, ast.TrainDecl):
        return _block_lines("train {", node, node.items, _train_item, source)
    if isinstance(node, ast.AuctionDecl):
        return _block_lines(f"auction {node.name} {{", node, node.items, _auction_item, source)
    text = _STATEMENT[type(node)](node)
    if isinstance(node, ast.ConstraintIR) and node.scope == "per_period":
        if "per_period" not in source.text_of(node.span):
            text = "constraint ir"  # the default scope stays implicit when it was not written
    return [_Line(0, text, node.span.line, node.span.end_line)]


def _attach_comments(lines: list[_Line], comments: tuple[ast.Comment, ...], source: _Source) -> list[ast.Comment]:
    """Give each comment to the line it trails or precedes; returns the comments after the last line."""
    at_end: list[ast.Comment] = []
    for comment in sorted(comments, key=lambda c: (c.span.line, c.span.col)):
        number = comment.span.line
        after_code = bool(source.line(number)[: comment.span.col - 1].strip())
        if after_code:
            ending_here = [line for line in lines if line.last == number]
            if ending_here:
                ending_here[-1].trailing = comment
                continue
        following = next((line for line in lines if line.last >= number), None)
        (following.leading if following is not None else at_end).append(comment)
    return at_end


def _trailing(code: str, comment: ast.Comment, source: _Source) -> str:
    written_code = source.line(comment.span.line)[: comment.span.col - 1].rstrip()
    column = comment.span.col - 1
    if written_code == code and column >= len(code) + 2:
        return code.ljust(column) + comment.text.rstrip()
    return f"{code}  {comment.text.rstrip()}"


def format_spec(spec: ast.Spec) -> str:
    """The canonical `.mech` text of a parsed spec (see the module docstring for the layout)."""
    source = _Source(spec.source)
    lines = [line for node in spec.statements for line in _statement_lines(node, source)]
    at_end = _attach_comments(lines, spec.comments, source)

    out: list[str] = []
    previous_last: int | None = None  # last source line of what was printed just before
    previous_opens = False

    def emit(text: str, first: int, last: int, *, closes: bool = False, opens: bool = False) -> None:
        nonlocal previous_last, previous_opens
        if (
            previous_last is not None and not previous_opens and not closes
            and any(source.is_blank(n) for n in range(previous_last + 1, first))
        ):
            out.append("")
        out.append(text)
        previous_last, previous_opens = last, opens

    for line in lines:
        comment_depth = line.depth + 1 if line.closes_block else line.depth
        for comment in line.leading:
            n = comment.span.line
            emit(INDENT * comment_depth + comment.text.rstrip(), n, n)
        code = INDENT * line.depth + line.text
        if line.trailing is not None:
            code = _trailing(code, line.trailing, source)
        emit(code, line.first, line.last, closes=line.closes_block, opens=line.opens_block)
    for comment in at_end:
        n = comment.span.line
        emit(comment.text.rstrip(), n, n)
    return "\n".join(out) + "\n" if out else ""
