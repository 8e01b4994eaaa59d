"""Abstract syntax tree of a `.mech` spec: frozen dataclasses, each with its source span.

The tree mirrors the grammar in `grammar.lark` one-to-one; it carries no meaning yet
(the checker gives it meaning and produces `mechdsl.model.Model`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Span:
    """A source range; lines and columns are 1-based, `end_col` is exclusive."""

    line: int
    col: int
    end_line: int
    end_col: int

    @staticmethod
    def unknown() -> "Span":
        return Span(0, 0, 0, 0)


# ---------------------------------------------------------------- expressions
@dataclass(frozen=True)
class Expr:
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Number(Expr):
    value: float
    text: str


@dataclass(frozen=True)
class Name(Expr):
    name: str


@dataclass(frozen=True)
class Subscript(Expr):
    name: str
    indices: tuple[Expr, ...]


@dataclass(frozen=True)
class Call(Expr):
    function: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class OperatorChain(Expr):
    """`a - b + c` or `a * b / c`: operands joined left to right by operators of one
    precedence level (`+ -`, or `* /`), read as ((a - b) + c). Flat, so a sum of many
    terms is one node deep, however many terms it has."""

    first: Expr
    rest: tuple[tuple[str, Expr], ...]  # (operator, operand) after `first`, in order


@dataclass(frozen=True)
class BinaryOp(Expr):
    op: str  # ^ (the parser builds `+ - * /` as an OperatorChain)
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Negate(Expr):
    """`-x`, or `count` minus signs in a row (`--x` has count 2; unary plus signs are
    dropped), so a run of signs is one node deep."""

    operand: Expr
    count: int = 1


@dataclass(frozen=True)
class Binding:
    """`k in K`: index `k` runs over 0..K-1 for a declared size K."""

    index: str
    size: str
    span: Span = field(compare=False)


@dataclass(frozen=True)
class IndexedSum(Expr):
    binding: Binding
    body: Expr


# ---------------------------------------------------------------- statements
@dataclass(frozen=True)
class Statement:
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Distribution:
    name: str
    args: tuple[Expr, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True)
class MechanismDecl(Statement):
    name: str


@dataclass(frozen=True)
class SizeDecl(Statement):
    name: str
    value: int
    sweep: tuple[Expr, ...] | None


@dataclass(frozen=True)
class ParamConst(Statement):
    name: str
    value: Expr
    sweep: tuple[Expr, ...] | None


@dataclass(frozen=True)
class ParamRandom(Statement):
    name: str
    distribution: Distribution


@dataclass(frozen=True)
class LetValue(Statement):
    name: str
    value: Expr


@dataclass(frozen=True)
class LetFunction(Statement):
    name: str
    params: tuple[str, ...]
    body: Expr


@dataclass(frozen=True)
class TypesDecl(Statement):
    """`types theta[k in K] ~ uniform(lo(k), hi(k))`: K ordered hidden types."""

    name: str
    binding: Binding
    distribution: Distribution


@dataclass(frozen=True)
class ValueRow:
    """`[a, b, ...]`: a list literal of expressions (a vector, or one row of a matrix)."""

    values: tuple[Expr, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True)
class TypesFixed(Statement):
    """`types theta[K] = [3, 4.05, 4.6]`: K ordered hidden types with fixed values."""

    name: str
    size: str
    values: ValueRow
    size_span: Span = field(compare=False, default_factory=Span.unknown)


@dataclass(frozen=True)
class ProbRandom(Statement):
    name: str
    shape: tuple[str, ...]
    distribution: Distribution


@dataclass(frozen=True)
class ProbFixed(Statement):
    """`prob p[K] = [0.3, 0.7]` or `prob p2[K, K] = [[0.7, 0.3], [0.2, 0.8]]`: `rows` as
    written, one for a flat list (which may also hold a whole table, row-major)."""

    name: str
    shape: tuple[str, ...]
    rows: tuple[ValueRow, ...]
    nested: bool = False

    @property
    def values(self) -> tuple[Expr, ...]:
        """Every value, row-major."""
        return tuple(v for row in self.rows for v in row.values)


@dataclass(frozen=True)
class PrincipalDecl(Statement):
    name: str


@dataclass(frozen=True)
class AgentDecl(Statement):
    name: str
    count: Expr


@dataclass(frozen=True)
class UtilityDecl(Statement):
    """`utility ES(theta, T, R) = ...`: the agent's per-period utility u(type, allocation, payment)."""

    agent: str
    params: tuple[str, ...]
    body: Expr


@dataclass(frozen=True)
class MoneyFlow:
    """`from consumer` / `to consumer` after a payment's shape: who pays whom."""

    word: str  # "from" | "to"
    party: str
    span: Span = field(compare=False)


@dataclass(frozen=True)
class VariableDecl(Statement):
    kind: str  # "allocation" | "payment"
    name: str
    shape: tuple[str, ...]
    lower: Expr
    upper: Expr | None
    flow: MoneyFlow | None = None


@dataclass(frozen=True)
class PeriodType:
    types: str
    prob: str
    span: Span = field(compare=False)


@dataclass(frozen=True)
class PeriodMenu:
    allocation: str
    payment: str
    span: Span = field(compare=False)


@dataclass(frozen=True)
class PeriodDecl(Statement):
    number: int
    discount: Expr | None
    items: tuple[PeriodType | PeriodMenu, ...]


@dataclass(frozen=True)
class ObjectiveDecl(Statement):
    sense: str  # "maximize" | "minimize"
    expr: Expr


@dataclass(frozen=True)
class ConstraintIR(Statement):
    scope: str  # "per_period" | "lifetime"


@dataclass(frozen=True)
class ConstraintIC(Statement):
    pass


@dataclass(frozen=True)
class ConstraintIIC(Statement):
    pass


@dataclass(frozen=True)
class ConstraintMonotone(Statement):
    names: tuple[str, ...]


@dataclass(frozen=True)
class ConstraintPlain(Statement):
    left: Expr
    comparator: str  # ">=" | "<=" | "=="
    right: Expr
    quantifier: tuple[Binding, ...]


@dataclass(frozen=True)
class TrainItem:
    name: str
    value: Expr | str
    span: Span = field(compare=False)


@dataclass(frozen=True)
class TrainDecl(Statement):
    items: tuple[TrainItem, ...]


# ---------------------------------------------------------------- games
@dataclass(frozen=True)
class ParamRandomIndexed(Statement):
    """`param g[n in N, s in S] ~ uniform(a, b)`: one independent draw per index (games)."""

    name: str
    bindings: tuple[Binding, ...]
    distribution: Distribution


@dataclass(frozen=True)
class GameDecl(Statement):
    """`game NAME`: marks the spec as a game (a contract spec starts with `mechanism NAME`)."""

    name: str


@dataclass(frozen=True)
class PlayerDecl(Statement):
    """`leader MA[i in I]` / `follower WA[n in N]`: an indexed population of players."""

    role: str  # "leader" | "follower"
    name: str
    binding: Binding


@dataclass(frozen=True)
class StrategyDecl(Statement):
    """`strategy o[N, I] of WA in [0, 1]`: a strategy variable; its first index is the player's."""

    name: str
    shape: tuple[str, ...]
    owner: str
    lower: Expr
    upper: Expr | None


@dataclass(frozen=True)
class PlayerUtility(Statement):
    """`utility WA[n] = ...`: the utility of player `WA[n]`, `n` bound to its own index."""

    player: str
    index: str
    body: Expr


@dataclass(frozen=True)
class AuctionMechanism:
    name: str
    span: Span = field(compare=False)


@dataclass(frozen=True)
class AuctionSide:
    """`buyer FA[j in J] demand EXPR value ~ dist` or `seller AA[m in M] supply EXPR cost ~ dist`."""

    side: str  # "buyer" | "seller"
    name: str
    binding: Binding
    quantity: Expr
    distribution: Distribution
    span: Span = field(compare=False)


@dataclass(frozen=True)
class AuctionStep:
    value: Expr
    span: Span = field(compare=False)


@dataclass(frozen=True)
class AuctionDecl(Statement):
    name: str
    items: tuple[AuctionMechanism | AuctionSide | AuctionStep, ...]


# ---------------------------------------------------------------- scenarios
@dataclass(frozen=True)
class ScenarioDecl(Statement):
    """`scenario NAME`: marks the spec as a sequential scenario (docs/scenarios.md)."""

    name: str


@dataclass(frozen=True)
class StateDecl(Statement):
    """`state x[v in V] in [lo, hi] = expr` or `... ~ dist(...)`: a state variable, its
    observation bounds and its value at an episode's start (`init` an Expr or Distribution)."""

    name: str
    bindings: tuple[Binding, ...]
    lower: Expr
    upper: Expr
    init: "Expr | Distribution"


@dataclass(frozen=True)
class ObserveDecl(Statement):
    """`observe x, y`: the state variables and episode parameters the policy sees."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class ActionDecl(Statement):
    """`action a[...] MAP`: raw policy outputs in [-1, 1] and how they become decisions.
    kind: "softmax" (one-hot argmax over `axis`), "threshold" (1 if (a+1)/2 > level),
    "simplex" (shares over `axis`, optionally masked by `mask`), "interval" ([lo, hi]).
    A softmax may carry a `choice` (`where COND fallback PREF capacity k`)."""

    name: str
    bindings: tuple[Binding, ...]
    kind: str
    axis: str | None = None
    level: Expr | None = None
    mask: Expr | None = None
    lower: Expr | None = None
    upper: Expr | None = None
    choice: ChoiceRules | None = None


@dataclass(frozen=True)
class ChoiceMask:
    """`where left COMPARATOR right` (an entry qualifies when it holds) or `where weight`
    (comparator None: it qualifies when weight > 0)."""

    span: Span = field(compare=False)
    left: Expr
    comparator: str | None = None
    right: Expr | None = None


@dataclass(frozen=True)
class ChoiceRules:
    """The rules of a softmax choice: which entries qualify, what a row takes when none can,
    and how many rows an entry holds (mechdsl/scenario/choice.py)."""

    mask: ChoiceMask | None = None
    fallback: Expr | None = None
    capacity: Expr | None = None


@dataclass(frozen=True)
class NextDecl(Statement):
    """`next x[v] = expr` (deterministic) or `next x[v] ~ dist(...)` (random) per slot."""

    name: str
    indices: tuple[str, ...]
    value: "Expr | Distribution"


@dataclass(frozen=True)
class RewardDecl(Statement):
    expr: Expr


@dataclass(frozen=True)
class MetricDecl(Statement):
    """`metric T_tot[v in V] = expr`: a per-slot quantity reported in the env's info."""

    name: str
    bindings: tuple[Binding, ...]
    expr: Expr


@dataclass(frozen=True)
class HorizonDecl(Statement):
    """`horizon H discount gamma`: slots per episode and the discount over slots."""

    length: Expr
    discount: Expr | None


@dataclass(frozen=True)
class ConstraintPenalised(Statement):
    """`constraint c22b: lhs <= rhs for s in S penalty w` (scenarios): violations are
    counted and cost w * max(0, violation) in the learning reward."""

    label: str
    left: Expr
    comparator: str
    right: Expr
    quantifier: tuple[Binding, ...]
    penalty: Expr | None   # None: `hard`, kept by the action map (the checker proves how)


# ---------------------------------------------------------------- auction design
@dataclass(frozen=True)
class AuctionDesignDecl(Statement):
    """`design auction NAME`: marks the spec as an auction to design (not the tier-2
    `auction NAME { ... }` block of a game, which runs a fixed double auction)."""

    name: str


@dataclass(frozen=True)
class BidderDecl(Statement):
    """`bidder b[i in n] value ~ dist` (one value per bidder, or per bidder and item with a
    second binding `[i in n, j in m]`): an indexed population of bidders."""

    name: str
    bindings: tuple[Binding, ...]
    distribution: Distribution


@dataclass(frozen=True)
class ValuationDecl(Statement):
    """`valuation single` or `valuation additive over m` / `valuation unit_demand over m`."""

    form: str
    items: str | None  # the size that counts the items


@dataclass(frozen=True)
class Comment:
    text: str
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Spec:
    """A parsed file: its statements in source order and its comments (for `fmt`)."""

    path: str
    source: str
    statements: tuple[Statement, ...]
    comments: tuple[Comment, ...] = ()
