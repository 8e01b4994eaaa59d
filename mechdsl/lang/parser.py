"""Parser: `.mech` text -> `mechdsl.lang.ast.Spec`.

Lark (LALR(1), contextual lexer) builds a parse tree from `grammar.lark`; the
`_ToAst` transformer turns it into frozen dataclasses with spans. Syntax errors become
a `SpecError` whose message says in words what was expected.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from importlib import resources

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from mechdsl.lang import ast
from mechdsl.lang.diagnostics import Diagnostic, SpecError, did_you_mean, source_lines

STATEMENT_KEYWORDS = (
    "mechanism", "size", "param", "let", "types", "prob", "principal", "agent",
    "utility", "allocation", "payment", "period", "maximize", "minimize",
    "constraint", "train", "game", "leader", "follower", "strategy", "auction",
    "scenario", "state", "observe", "action", "next", "reward", "metric", "horizon",
    "design", "bidder", "valuation",
)

_TERMINAL_WORDS = {
    "NAME": "a name",
    "INT": "a whole number",
    "NUMBER": "a number",
    "STRING": 'a string in "quotes"',
    "COMPARATOR": "a comparison (>=, <= or ==)",
    "VARIABLE_KIND": "'allocation' or 'payment'",
    "OBJECTIVE_SENSE": "'maximize' or 'minimize'",
    "IR_SCOPE": "'per_period' or 'lifetime'",
    "PLAYER_ROLE": "'leader' or 'follower'",
    "FLOW_WORD": "'from' or 'to'",
    "$END": "the end of the file",
}


def _span_of_meta(meta) -> ast.Span:
    if getattr(meta, "empty", False):
        return ast.Span.unknown()
    return ast.Span(meta.line, meta.column, meta.end_line, meta.end_column)


def _span_of_token(token: Token) -> ast.Span:
    return ast.Span(token.line, token.column, token.end_line, token.end_column)


# How deep a parse tree may nest (statements and their parts count too, about three
# levels). Long sums, products and runs of signs are flat (one level however long, see
# `grammar.lark`), so only real nesting counts: a power inside a power, a call inside a
# call, a bracketed sum inside a product. Deeper trees would exhaust Python's recursion
# in the stages after parsing (lowering, SymPy, the printers); docs/language.md states
# the limit.
MAX_NESTING = 50


class NestingTooDeep(Exception):
    """A parse tree nests deeper than `MAX_NESTING`; `meta` is where the limit is passed."""

    def __init__(self, meta):
        super().__init__("nested too deeply")
        self.meta = meta


class _ToAst:
    """Parse tree -> AST. One method per named grammar alternative, called bottom-up with
    the node's position (`meta`) and its already-built children by `build`.

    A plain tree walk rather than `lark.Transformer`: the same dispatch on rule names, but
    without Lark's per-call wrappers (about a sixth of the parse time), and a mistake here
    raises its own exception instead of a `VisitError`."""

    def build(self, tree: Tree):
        """Post-order walk with an explicit stack (one frame per open node, so the stack's
        length is the depth of the node on top): no Python recursion, whatever the depth.
        Raises `NestingTooDeep` at the first node deeper than `MAX_NESTING`."""
        stack = [(tree, iter(tree.children), [])]
        while True:
            node, pending, built = stack[-1]
            for child in pending:
                if isinstance(child, Tree):
                    if len(stack) >= MAX_NESTING:
                        raise NestingTooDeep(child.meta)
                    stack.append((child, iter(child.children), []))
                    break
                built.append(child)
            else:
                stack.pop()
                value = getattr(self, node.data)(node.meta, built)
                if not stack:
                    return value
                stack[-1][2].append(value)

    # -- expressions
    def number(self, meta, children):
        (token,) = children
        return ast.Number(_span_of_meta(meta), float(token), str(token))

    def name(self, meta, children):
        return ast.Name(_span_of_meta(meta), str(children[0]))

    def subscript(self, meta, children):
        name, args = children
        return ast.Subscript(_span_of_meta(meta), str(name), tuple(args))

    def call(self, meta, children):
        name, args = children
        return ast.Call(_span_of_meta(meta), str(name), tuple(args or ()))

    def chain(self, meta, children):
        """first, op, operand, op, operand, ... (`+ -` or `* /`) -> one flat OperatorChain.
        A bracketed chain of the same level in front, `(a - b) + c`, is read as `a - b + c`
        (the same left-to-right operations), so the tree never depends on such brackets."""
        first, *rest = children
        links = tuple((str(op), operand) for op, operand in zip(rest[::2], rest[1::2]))
        if isinstance(first, ast.OperatorChain) and _same_level(first.rest[0][0], links[0][0]):
            first, links = first.first, first.rest + links
        return ast.OperatorChain(_span_of_meta(meta), first, links)

    def pow(self, meta, children):
        left, right = children
        return ast.BinaryOp(_span_of_meta(meta), "^", left, right)

    def signed(self, meta, children):
        """A run of signs before a power: the minus signs counted, the plus signs dropped."""
        *signs, operand = children
        minus = sum(1 for sign in signs if sign.type == "MINUS")
        if minus and isinstance(operand, ast.Negate):  # -(-x) reads as --x
            operand, minus = operand.operand, minus + operand.count
        return ast.Negate(_span_of_meta(meta), operand, minus) if minus else operand

    def binding(self, meta, children):
        index, size = children
        return ast.Binding(str(index), str(size), _span_of_meta(meta))

    def indexed_sum(self, meta, children):
        binding, body = children
        return ast.IndexedSum(_span_of_meta(meta), binding, body)

    def arg_list(self, meta, children):
        return tuple(children)

    def name_list(self, meta, children):
        return tuple(str(c) for c in children)

    def vector(self, meta, children):
        return ast.ValueRow(tuple(children), _span_of_meta(meta))

    def matrix(self, meta, children):
        return tuple(children)

    def sweep(self, meta, children):
        return tuple(children)

    def distribution(self, meta, children):
        name, args = children
        return ast.Distribution(str(name), tuple(args or ()), _span_of_meta(meta))

    # -- statements
    def mechanism_decl(self, meta, children):
        return ast.MechanismDecl(_span_of_meta(meta), str(children[0]))

    def size_decl(self, meta, children):
        name, value, sweep = children
        return ast.SizeDecl(_span_of_meta(meta), str(name), int(value), sweep)

    def param_const(self, meta, children):
        name, value, sweep = children
        return ast.ParamConst(_span_of_meta(meta), str(name), value, sweep)

    def param_random(self, meta, children):
        name, dist = children
        return ast.ParamRandom(_span_of_meta(meta), str(name), dist)

    def let_value(self, meta, children):
        name, value = children
        return ast.LetValue(_span_of_meta(meta), str(name), value)

    def let_function(self, meta, children):
        name, params, body = children
        return ast.LetFunction(_span_of_meta(meta), str(name), params, body)

    def types_random(self, meta, children):
        name, index, size, dist = children
        binding = ast.Binding(str(index), str(size), _span_of_token(index))
        return ast.TypesDecl(_span_of_meta(meta), str(name), binding, dist)

    def types_fixed(self, meta, children):
        name, size, values = children
        return ast.TypesFixed(_span_of_meta(meta), str(name), str(size), values, _span_of_token(size))

    def prob_random(self, meta, children):
        name, shape, dist = children
        return ast.ProbRandom(_span_of_meta(meta), str(name), shape, dist)

    def prob_fixed(self, meta, children):
        name, shape, table = children
        nested = isinstance(table, tuple)
        return ast.ProbFixed(_span_of_meta(meta), str(name), shape, table if nested else (table,), nested)

    def principal_decl(self, meta, children):
        return ast.PrincipalDecl(_span_of_meta(meta), str(children[0]))

    def agent_decl(self, meta, children):
        name, count = children
        return ast.AgentDecl(_span_of_meta(meta), str(name), count)

    def utility_decl(self, meta, children):
        agent, params, body = children
        return ast.UtilityDecl(_span_of_meta(meta), str(agent), params, body)

    def bounds_interval(self, meta, children):
        return tuple(children)

    def bounds_lower(self, meta, children):
        return (children[0], None)

    def money_flow(self, meta, children):
        word, party = children
        return ast.MoneyFlow(word, str(party), _span_of_meta(meta))

    def variable_decl(self, meta, children):
        kind, name, shape, flow, (lower, upper) = children
        return ast.VariableDecl(_span_of_meta(meta), str(kind), str(name), shape, lower, upper, flow)

    def discount(self, meta, children):
        return children[0]

    def period_type(self, meta, children):
        types, prob = children
        return ast.PeriodType(str(types), str(prob), _span_of_meta(meta))

    def period_menu(self, meta, children):
        allocation, payment = children
        return ast.PeriodMenu(str(allocation), str(payment), _span_of_meta(meta))

    def period_decl(self, meta, children):
        number, discount, *items = children
        return ast.PeriodDecl(_span_of_meta(meta), int(number), discount, tuple(items))

    def objective_decl(self, meta, children):
        sense, expr = children
        return ast.ObjectiveDecl(_span_of_meta(meta), str(sense), expr)

    def constraint_decl(self, meta, children):
        return children[0]

    def constraint_ir(self, meta, children):
        (scope,) = children
        return ast.ConstraintIR(_span_of_meta(meta), str(scope) if scope else "per_period")

    def constraint_ic(self, meta, children):
        return ast.ConstraintIC(_span_of_meta(meta))

    def constraint_iic(self, meta, children):
        return ast.ConstraintIIC(_span_of_meta(meta))

    def constraint_monotone(self, meta, children):
        return ast.ConstraintMonotone(_span_of_meta(meta), children[0])

    def quantifier(self, meta, children):
        return tuple(children)

    def constraint_plain(self, meta, children):
        left, comparator, right, quantifier = children
        return ast.ConstraintPlain(
            _span_of_meta(meta), left, str(comparator), right, quantifier or ()
        )

    def _keyword(self, meta, children):
        return str(children[0])

    variable_kind = objective_sense = ir_scope = comparator = flow_word = _keyword

    def string(self, meta, children):
        return str(children[0])[1:-1]

    def train_keyword_action(self, meta, children):
        return "action"  # the keyword as a train-block value (`payments = action`)

    def train_item(self, meta, children):
        name, value = children
        return ast.TrainItem(str(name), value, _span_of_meta(meta))

    def train_decl(self, meta, children):
        return ast.TrainDecl(_span_of_meta(meta), tuple(children))

    # -- games
    def param_random_indexed(self, meta, children):
        name, *bindings, dist = children
        return ast.ParamRandomIndexed(_span_of_meta(meta), str(name), tuple(bindings), dist)

    def game_decl(self, meta, children):
        return ast.GameDecl(_span_of_meta(meta), str(children[0]))

    def player_decl(self, meta, children):
        role, name, binding = children
        return ast.PlayerDecl(_span_of_meta(meta), role, str(name), binding)

    player_role = _keyword

    def strategy_decl(self, meta, children):
        name, shape, owner, (lower, upper) = children
        return ast.StrategyDecl(_span_of_meta(meta), str(name), shape, str(owner), lower, upper)

    def player_utility(self, meta, children):
        player, index, body = children
        return ast.PlayerUtility(_span_of_meta(meta), str(player), str(index), body)

    def auction_mechanism(self, meta, children):
        return ast.AuctionMechanism(str(children[0]), _span_of_meta(meta))

    def _auction_side(self, meta, children, side: str):
        name, binding, quantity, dist = children
        return ast.AuctionSide(side, str(name), binding, quantity, dist, _span_of_meta(meta))

    def auction_buyer(self, meta, children):
        return self._auction_side(meta, children, "buyer")

    def auction_seller(self, meta, children):
        return self._auction_side(meta, children, "seller")

    def auction_step(self, meta, children):
        return ast.AuctionStep(children[0], _span_of_meta(meta))

    def auction_decl(self, meta, children):
        name, *items = children
        return ast.AuctionDecl(_span_of_meta(meta), str(name), tuple(items))

    # -- scenarios
    def scenario_decl(self, meta, children):
        return ast.ScenarioDecl(_span_of_meta(meta), str(children[0]))

    def index_bindings(self, meta, children):
        return tuple(children)

    def index_names(self, meta, children):
        return children[0]

    def init_value(self, meta, children):
        return children[0]

    init_random = init_value

    def state_decl(self, meta, children):
        name, bindings, lower, upper, init = children
        return ast.StateDecl(_span_of_meta(meta), str(name), bindings or (), lower, upper, init)

    def observe_decl(self, meta, children):
        return ast.ObserveDecl(_span_of_meta(meta), children[0])

    def map_softmax(self, meta, children):
        axis, mask, fallback, capacity = children
        choice = ast.ChoiceRules(mask, fallback, capacity) if (mask, fallback, capacity) != (None, None, None) else None
        return {"kind": "softmax", "axis": str(axis), "choice": choice}

    def map_threshold(self, meta, children):
        return {"kind": "threshold", "level": children[0]}

    def map_simplex(self, meta, children):
        axis, mask = children
        return {"kind": "simplex", "axis": str(axis), "mask": mask}

    def map_interval(self, meta, children):
        lower, upper = children
        return {"kind": "interval", "lower": lower, "upper": upper}

    def action_decl(self, meta, children):
        name, bindings, mapping = children
        return ast.ActionDecl(_span_of_meta(meta), str(name), bindings or (), **mapping)

    def next_value(self, meta, children):
        name, indices, value = children
        return ast.NextDecl(_span_of_meta(meta), str(name), indices or (), value)

    next_random = next_value

    def reward_decl(self, meta, children):
        return ast.RewardDecl(_span_of_meta(meta), children[0])

    def metric_decl(self, meta, children):
        name, bindings, expr = children
        return ast.MetricDecl(_span_of_meta(meta), str(name), bindings or (), expr)

    def horizon_decl(self, meta, children):
        length, discount = children
        return ast.HorizonDecl(_span_of_meta(meta), length, discount)

    def constraint_penalised(self, meta, children):
        label, left, comparator, right, quantifier, penalty = children
        return ast.ConstraintPenalised(_span_of_meta(meta), str(label), left, str(comparator), right,
                                       quantifier or (), penalty)

    def constraint_hard(self, meta, children):
        label, left, comparator, right, quantifier = children
        return ast.ConstraintPenalised(_span_of_meta(meta), str(label), left, str(comparator), right,
                                       quantifier or (), None)

    def mask_weight(self, meta, children):
        return ast.ChoiceMask(_span_of_meta(meta), children[0])

    def mask_condition(self, meta, children):
        left, comparator, right = children
        return ast.ChoiceMask(_span_of_meta(meta), left, str(comparator), right)

    def choice_fallback(self, meta, children):
        return children[0]

    choice_capacity = choice_fallback

    # -- auction design
    def auction_design_decl(self, meta, children):
        return ast.AuctionDesignDecl(_span_of_meta(meta), str(children[0]))

    def bidder_decl(self, meta, children):
        name, bindings, dist = children
        return ast.BidderDecl(_span_of_meta(meta), str(name), bindings, dist)

    def valuation_decl(self, meta, children):
        form, items = children
        return ast.ValuationDecl(_span_of_meta(meta), str(form), None if items is None else str(items))

    def start(self, meta, children):
        return tuple(children)


def _same_level(op: str, other: str) -> bool:
    """Whether two chain operators bind equally (both of `+ -` or both of `* /`)."""
    return (op in "+-") == (other in "+-")


def _describe_expected(expected: set[str]) -> str:
    """Turn Lark terminal names into words: {'NAME', 'LPAR'} -> "a name or '('"."""
    lark = _lark()
    patterns = {t.name: t.pattern for t in lark.terminals}
    words: list[str] = []
    for name in sorted(expected):
        if name in _TERMINAL_WORDS:
            words.append(_TERMINAL_WORDS[name])
        elif name in patterns and patterns[name].type == "str":
            words.append(f"'{patterns[name].value}'")
        else:
            words.append(name.lower())
    keyword_words = {f"'{k}'" for k in STATEMENT_KEYWORDS}
    if len(keyword_words & set(words)) >= 5:
        words = [w for w in words if w not in keyword_words] + ["a new statement (param, let, constraint, ...)"]
    words = sorted(set(words))
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _acceptable(error: UnexpectedInput) -> set[str]:
    """The terminals that could really come next. Lark's `expected` lists every terminal of
    the LALR state, including ones that only a pending reduction would reject; asking the
    interactive parser gives the precise set (only on the error path, so the cost is fine)."""
    parser = getattr(error, "interactive_parser", None)
    if parser is not None:
        try:
            return set(parser.accepts()) - {"$END"} or set(error.expected)
        except Exception:  # noqa: BLE001 - fall back to Lark's own list
            pass
    return set(error.expected)


def _syntax_diagnostic(error: UnexpectedInput, source: str) -> Diagnostic:
    if isinstance(error, UnexpectedCharacters):
        char = source[error.pos_in_stream] if error.pos_in_stream < len(source) else "?"
        span = ast.Span(error.line, error.column, error.line, error.column + 1)
        return Diagnostic(
            f"unexpected character {char!r}",
            span,
            hint="names use letters, digits and '_'; comments start with '#'",
        )
    if isinstance(error, UnexpectedEOF) or (
        isinstance(error, UnexpectedToken) and error.token.type == "$END"
    ):
        lines = source_lines(source.rstrip())
        line = len(lines)
        col = len(lines[-1]) + 1
        expected = _describe_expected(_acceptable(error))
        return Diagnostic(
            f"the file ended too early: expected {expected}", ast.Span(line, col, line, col + 1)
        )
    assert isinstance(error, UnexpectedToken)
    token = error.token
    span = _span_of_token(token)
    acceptable = _acceptable(error)
    expected = _describe_expected(acceptable)
    text, hint = str(token), None
    if text in STATEMENT_KEYWORDS and acceptable == {"NAME"}:
        hint = f"'{text}' is a reserved word; pick another name"
    elif text in STATEMENT_KEYWORDS:
        hint = "the previous statement looks unfinished"
    elif text == "=" and any(_terminal_text(t) == "==" for t in acceptable):
        hint = "use '==' for an equality constraint"
    elif text == "*" and token.start_pos and source[token.start_pos - 1] == "*":
        span = ast.Span(token.line, token.column - 1, token.end_line, token.end_column)
        return Diagnostic("'**' is not an operator", span, hint="powers are written with '^', e.g. x^2")
    if token.type == "NAME":
        hint = _misspelt_keyword(text, acceptable) or hint
    if hint == "the previous statement looks unfinished" or (hint is None and token.type == "NAME"):
        hint = _misspelt_constraint_kind(source[:token.start_pos]) or hint
    return Diagnostic(f"unexpected {text!r}: expected {expected}", span, hint=hint)


CONSTRAINT_KINDS = ("ir", "ic", "iic", "monotone")


def _misspelt_keyword(word: str, acceptable: set[str]) -> str | None:
    """'did you mean' for a name where a keyword belongs: `constrant ic`, `typ theta prob p`.
    Candidates are the keywords that may come next (every statement keyword where a new
    statement may start)."""
    keywords = {text for name in acceptable if (text := _terminal_text(name)) and text.isidentifier()}
    if keywords & set(STATEMENT_KEYWORDS):
        keywords |= set(STATEMENT_KEYWORDS)
    return did_you_mean(word, keywords)


def _misspelt_constraint_kind(before: str) -> str | None:
    """`constraint irr` reads as a plain constraint `irr ...` that never gets its comparator;
    when the word after `constraint` is close to a constraint kind, say so."""
    match = re.search(r"\bconstraint\s+([A-Za-z_][A-Za-z0-9_]*)\s*$", before)
    if match is None or match[1] in CONSTRAINT_KINDS:
        return None
    close = did_you_mean(match[1], CONSTRAINT_KINDS)
    return close and close.replace("did you mean '", "did you mean 'constraint ")


def _terminal_text(name: str) -> str | None:
    """The literal text of a string terminal (`__ANON_2` -> '=='), None for patterns."""
    pattern = {t.name: t.pattern for t in _lark().terminals}.get(name)
    return pattern.value if pattern is not None and pattern.type == "str" else None


class _CommentSink(threading.local):
    """Where the cached parser's lexer callback puts comments during one `parse` call."""

    comments: list | None = None


_SINK = _CommentSink()


def _keep_comment(token: Token) -> Token:
    if _SINK.comments is not None:
        _SINK.comments.append(ast.Comment(str(token), _span_of_token(token)))
    return token


@lru_cache(maxsize=1)
def _lark() -> Lark:
    grammar = resources.files("mechdsl.lang").joinpath("grammar.lark").read_text()
    return Lark(
        grammar,
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=True,
        lexer_callbacks={"COMMENT": _keep_comment},
    )


def parse(source: str, path: str = "<string>") -> ast.Spec:
    """Parse `.mech` source text. Raises `SpecError` (with a position) on a syntax error."""
    _SINK.comments = []
    try:
        tree = _lark().parse(source)
    except UnexpectedInput as error:
        raise SpecError(path, source, [_syntax_diagnostic(error, source)]) from None
    finally:
        comments, _SINK.comments = tuple(_SINK.comments), None
    try:
        statements = _ToAst().build(tree)
    except NestingTooDeep as error:
        raise SpecError(path, source, [_nesting_diagnostic(error.meta)]) from None
    return ast.Spec(path, source, statements, comments)


def _nesting_diagnostic(meta) -> Diagnostic:
    return Diagnostic(
        f"this expression nests too deeply (mechdsl reads at most {MAX_NESTING} levels)",
        _span_of_meta(meta),
        hint="name inner parts with `let`; long sums, products and runs of signs do not count, "
             "only powers, calls and brackets inside each other",
    )
