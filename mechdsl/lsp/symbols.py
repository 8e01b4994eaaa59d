"""The symbol index of a parsed spec: where each name is declared and every place it is used.

Built from the AST's statement spans and the spec's identifier tokens, so it needs a spec that
parses, not one that checks (go-to-definition keeps working while the checker reports a
mistake). A name is *global* when a statement declares it (`size K`, `param c`, `let Q(T)`,
`payment R1[K]`, `leader MA[i in I]`, a scenario's `state x[...]`, a penalised constraint's
label, ...) and *local* inside the statement or expression that binds it: the parameters of
`let f(...)` and of the utility, the index of `sum(k in K, ...)`, of `types theta[k in K]`, of
a quantifier `for s in S`, of `next x[v]` and of a player's `utility WA[n]`. A local shadows a
global of the same name inside its scope, as in the checker.

Positions are the parser's: 1-based lines and columns, one column per character, `end_col`
exclusive (`mechdsl.lang.ast.Span`); the server converts them to the client's units.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Iterator

from mechdsl.lang import ast
from mechdsl.lang.diagnostics import source_lines

# Strings and comments first, so a name inside them is not a token; numbers before names, so
# the exponent of `1e-23` is not the name `e`. The same lexemes as grammar.lark.
_TOKEN = re.compile(
    r'(?P<string>"[^"\n]*")|(?P<comment>#[^\n]*)'
    r"|(?P<number>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
)

# What each declaring statement declares, in words (hover and the outline say it).
_WHAT = {
    ast.MechanismDecl: "mechanism", ast.GameDecl: "game", ast.ScenarioDecl: "scenario",
    ast.SizeDecl: "size", ast.ParamConst: "constant", ast.ParamRandom: "random parameter",
    ast.ParamRandomIndexed: "random parameter (one draw per entry)", ast.LetValue: "derived value",
    ast.LetFunction: "function", ast.TypesDecl: "hidden types", ast.TypesFixed: "hidden types (fixed values)",
    ast.ProbRandom: "type probabilities (random)", ast.ProbFixed: "type probabilities",
    ast.PrincipalDecl: "principal", ast.AgentDecl: "agent", ast.StrategyDecl: "strategy",
    ast.AuctionDecl: "auction", ast.StateDecl: "state variable", ast.ActionDecl: "action",
    ast.MetricDecl: "metric", ast.ConstraintPenalised: "constraint", ast.AuctionDesignDecl: "auction design",
    ast.BidderDecl: "bidders",
}


def declared_name(statement: ast.Statement) -> str | None:
    """The global name a statement declares, or None (`maximize ...`, `constraint ic`, `next x`)."""
    if isinstance(statement, ast.ConstraintPenalised):
        return statement.label
    if isinstance(statement, (ast.NextDecl, ast.UtilityDecl, ast.PlayerUtility)):
        return None  # they name what they define, declared elsewhere
    name = getattr(statement, "name", None)
    return name if isinstance(name, str) else None


def declarations_of(statement: ast.Statement) -> list[tuple[str, object]]:
    """(name, declaring node) of every global a statement declares: its own name, and the
    buyers and sellers of a game's `auction` block."""
    found = []
    name = declared_name(statement)
    if name is not None:
        found.append((name, statement))
    for item in getattr(statement, "items", None) or ():
        if isinstance(item, ast.AuctionSide):
            found.append((item.name, item))
    return found


def what_is(statement) -> str:
    """The declaration's kind in words: "payment", "random parameter", "leader", ..."""
    if isinstance(statement, ast.VariableDecl):
        return statement.kind
    if isinstance(statement, ast.PlayerDecl):
        return statement.role
    if isinstance(statement, ast.AuctionSide):
        return statement.side
    return _WHAT.get(type(statement), type(statement).__name__.removesuffix("Decl").lower())


@dataclass(frozen=True)
class Token:
    """One name as written: `text` at line `line`, columns [`col`, `end_col`)."""

    text: str
    line: int
    col: int

    @property
    def end_col(self) -> int:
        return self.col + len(self.text)

    @property
    def span(self) -> ast.Span:
        return ast.Span(self.line, self.col, self.line, self.end_col)


@dataclass(frozen=True)
class Declaration:
    """Where a name is declared: its statement (global) or its binding site (local)."""

    name: str
    site: Token
    statement: ast.Statement  # or the block item that declares it (a game's auction buyers and sellers)
    local: bool = False


@dataclass(frozen=True)
class Occurrence:
    token: Token
    declaration: Declaration


@dataclass(frozen=True)
class _Scope:
    span: ast.Span
    names: frozenset[str]


def _contains(span: ast.Span, line: int, col: int) -> bool:
    return (span.line, span.col) <= (line, col) < (span.end_line, span.end_col)


def tokens(source: str) -> list[Token]:
    """Every name of `source` outside comments and strings, in order."""
    found = []
    for number, text in enumerate(source_lines(source), start=1):
        for match in _TOKEN.finditer(text):
            if match.lastgroup == "name":
                found.append(Token(match.group(), number, match.start() + 1))
    return found


def comment_spans(source: str) -> list[ast.Span]:
    """Where the comments of `source` are (for code blocks shown without them)."""
    spans = []
    for number, text in enumerate(source_lines(source), start=1):
        for match in _TOKEN.finditer(text):
            if match.lastgroup == "comment":
                spans.append(ast.Span(number, match.start() + 1, number, match.end() + 1))
    return spans


def _children(node) -> Iterator:
    """The AST nodes directly inside `node` (dataclass fields, through tuples)."""
    if not dataclasses.is_dataclass(node):
        return
    for field in dataclasses.fields(node):
        value = getattr(node, field.name)
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, tuple):
                yield from (i for i in item if dataclasses.is_dataclass(i))
            elif dataclasses.is_dataclass(item):
                yield item


def _bound_names(node) -> frozenset[str]:
    """The local names `node` binds for the text its span covers."""
    names: set[str] = set()
    for attribute in ("params",):
        names.update(getattr(node, attribute, None) or ())
    if isinstance(node, ast.PlayerUtility):
        names.add(node.index)
    if isinstance(node, ast.NextDecl):
        names.update(node.indices)
    binding = getattr(node, "binding", None)
    if isinstance(binding, ast.Binding):
        names.add(binding.index)
    for attribute in ("bindings", "quantifier"):
        names.update(b.index for b in getattr(node, attribute, None) or () if isinstance(b, ast.Binding))
    return frozenset(names)


def _scopes(statement: ast.Statement) -> list[_Scope]:
    found, pending = [], [statement]
    while pending:
        node = pending.pop()
        span = getattr(node, "span", None)
        names = _bound_names(node)
        if names and isinstance(span, ast.Span):
            found.append(_Scope(span, names))
        pending.extend(_children(node))
    return found


class SymbolIndex:
    """Declarations and uses of every name of one parsed spec."""

    def __init__(self, spec: ast.Spec):
        self.spec = spec
        self.declarations: dict[str, Declaration] = {}
        self.occurrences: list[Occurrence] = []
        self.scopes: list[_Scope] = []
        self.tokens = all_tokens = tokens(spec.source)
        by_statement = self._tokens_by_statement(all_tokens)
        for statement, statement_tokens in by_statement:
            for name, node in declarations_of(statement):
                if name in self.declarations:
                    continue  # a second declaration of a name is the checker's to report
                # keywords are reserved, so the first token spelling the name declares it (a
                # statement's span may start at its keyword or, for constraints, after it)
                site = next((t for t in statement_tokens if t.text == name and _contains(node.span, t.line, t.col)),
                            None)
                if site is not None:
                    self.declarations[name] = Declaration(name, site, node)
        for statement, statement_tokens in by_statement:
            scopes = _scopes(statement)
            self.scopes.extend(scopes)
            for token in statement_tokens:
                declaration = self._local(token, statement, scopes, statement_tokens) or self.declarations.get(token.text)
                if declaration is not None:
                    self.occurrences.append(Occurrence(token, declaration))

    def _tokens_by_statement(self, all_tokens: list[Token]) -> list[tuple[ast.Statement, list[Token]]]:
        grouped, position = [], 0
        for statement in self.spec.statements:
            inside = []
            while position < len(all_tokens) and (all_tokens[position].line, all_tokens[position].col) < (
                    statement.span.line, statement.span.col):
                position += 1
            while position < len(all_tokens) and _contains(statement.span, all_tokens[position].line,
                                                           all_tokens[position].col):
                inside.append(all_tokens[position])
                position += 1
            grouped.append((statement, inside))
        return grouped

    @staticmethod
    def _local(token: Token, statement: ast.Statement, scopes: list[_Scope],
               statement_tokens: list[Token]) -> Declaration | None:
        """The innermost local binding of `token` (its first token in the binding scope)."""
        enclosing = [s for s in scopes if token.text in s.names and _contains(s.span, token.line, token.col)]
        if not enclosing:
            return None
        scope = min(enclosing, key=lambda s: (s.span.end_line - s.span.line, s.span.end_col - s.span.col))
        site = next(t for t in statement_tokens if t.text == token.text and _contains(scope.span, t.line, t.col))
        return Declaration(token.text, site, statement, local=True)

    def at(self, line: int, col: int) -> Occurrence | None:
        """The name under (line, col), the declaration included; None off a known name."""
        return next((o for o in self.occurrences
                     if o.token.line == line and o.token.col <= col <= o.token.end_col), None)

    def uses(self, declaration: Declaration) -> list[Token]:
        """Every token that means `declaration`, its own site included, in source order."""
        return [o.token for o in self.occurrences if o.declaration == declaration]

    def names_at(self, line: int, col: int) -> dict[str, Declaration]:
        """The names in scope at (line, col): every global, and the locals of the scopes around it."""
        names = dict(self.declarations)
        for statement in self.spec.statements:
            if not _contains(statement.span, line, col) and not (
                    statement.span.end_line == line and statement.span.end_col == col):
                continue
            for scope in _scopes(statement):
                if _contains(scope.span, line, col) or (scope.span.end_line, scope.span.end_col) == (line, col):
                    for name in scope.names:
                        site = next((t for t in self.tokens
                                     if t.text == name and _contains(scope.span, t.line, t.col)), None)
                        if site is not None:
                            names[name] = Declaration(name, site, statement, local=True)
        return names

    def comments_of(self, declaration: Declaration) -> list[str]:
        """The comment block right above a declaration's statement and its trailing comment,
        without the `#`."""
        statement = declaration.statement
        lines = source_lines(self.spec.source)
        own_line = {c.span.line: c for c in self.spec.comments
                    if not lines[c.span.line - 1][: c.span.col - 1].strip()}
        above, line = [], statement.span.line - 1
        while line in own_line:
            above.insert(0, own_line[line].text)
            line -= 1
        trailing = [c.text for c in self.spec.comments
                    if c.span.line == statement.span.end_line and c.span.line not in own_line]
        texts = (text.removeprefix("#").strip().strip("-=").strip() for text in above + trailing)
        return [text for text in texts if text]  # section rulers (`# ---- parameters ----`) keep their words

    def statement_text(self, statement: ast.Statement) -> str:
        """The statement as written, its comments and blank lines left out."""
        lines = source_lines(self.spec.source)
        span = statement.span
        comments = {c.span.line: c.span.col for c in self.spec.comments}
        kept = []
        for number in range(span.line, span.end_line + 1):
            text = lines[number - 1]
            if number == span.end_line:
                text = text[: span.end_col - 1]
            if number in comments:
                text = text[: comments[number] - 1]
            if number == span.line and text[: span.col - 1].strip() != "constraint":  # a constraint's span
                text = " " * (span.col - 1) + text[span.col - 1:]                  # starts after its keyword
            if text.strip():
                kept.append(text.rstrip())
        return "\n".join(kept)
