"""Checker of game specs: `ast.Spec` (starting with `game NAME`) -> `mechdsl.games.model.GameModel`.

It reuses the checking every kind shares (`spec_checker.SpecChecker`: sizes, constants,
random parameters, `let` values and functions, the train block, positioned diagnostics)
and the index-size checks it shares with scenarios (`indexed_checker.IndexedChecker`), and
adds the game statements: `leader`/`follower` populations, `strategy` variables with
bounds, per-player `utility P[i] = ...`, budget (simplex) constraints and the tier-2
`auction { ... }` block. Every mistake is gathered and reported together.
"""

from __future__ import annotations

import sympy as sp

from mechdsl import model as m
from mechdsl.games import model as g
from mechdsl.lang import ast
from mechdsl.lang.diagnostics import did_you_mean, source_lines
from mechdsl.lang.indexed_checker import IndexedChecker
from mechdsl.lang.lowering import Context, LoweringError, fail, lower
from mechdsl.lang.spec_checker import SHARED_STATEMENTS, SpecChecker, _AlreadyReported

AUCTION_MECHANISMS = ("double_dutch", "mcafee", "k_double")

class GameChecker(IndexedChecker, SpecChecker):
    KIND = "game"
    DECLARATION = ast.GameDecl
    DECLARATION_KEYWORD = "game"
    STATEMENTS = SHARED_STATEMENTS | {
        ast.GameDecl, ast.ParamRandom, ast.ParamRandomIndexed, ast.PlayerDecl, ast.StrategyDecl,
        ast.PlayerUtility, ast.ConstraintPlain, ast.AuctionDecl,
    }
    DECLARES = {ast.ParamRandomIndexed: "indexed random parameter", ast.StrategyDecl: "strategy",
                ast.PlayerDecl: "player"}
    CONTENTS = "leader/follower, strategy, utility P[i] = ..., auction { ... }"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.indexed_randoms: dict[str, g.IndexedRandom] = {}
        self.strategies: dict[str, g.Strategy] = {}
        self.players: dict[str, ast.PlayerDecl] = {}

    # ================================================================ driver
    def _declarations(self) -> None:
        for node in self._of(ast.ParamRandomIndexed):
            self._declare(self._indexed_random, node)
        for node in self._of(ast.PlayerDecl):
            self._declare(self._player, node)
        for node in self._of(ast.StrategyDecl):
            self._declare(self._strategy, node)

    def _statements(self) -> dict:
        utilities = self._utilities()
        budgets = tuple(b for node in self._of(ast.ConstraintPlain)
                        for b in (self._attempt(self._budget, node) or ()))
        auctions = self._of(ast.AuctionDecl)
        for extra in auctions[1:]:
            self._error("only one auction block is allowed", extra.span)
        auction = self._attempt(self._auction, auctions[0]) if auctions else None
        leaders, followers = self._populations(utilities)
        return dict(budgets=budgets, auction=auction, leaders=leaders, followers=followers)

    def _model(self, name: str, parts: dict, train: dict) -> g.GameModel:
        return g.GameModel(
            name=name, path=self.spec.path, sizes=dict(self.sizes), constants=self.constants,
            randoms=self.randoms, indexed_randoms=self.indexed_randoms, derived=self.derived,
            strategies=self.strategies, train=train, source=self.spec.source, spans=self._spans(), **parts,
        )

    def _spans(self) -> dict[str, ast.Span]:
        """Where the statements that the solver or the compiler may refuse are written."""
        keys = {ast.GameDecl: lambda n: "game", ast.AuctionDecl: lambda n: "auction",
                ast.PlayerDecl: lambda n: f"player {n.name}", ast.StrategyDecl: lambda n: f"strategy {n.name}",
                ast.PlayerUtility: lambda n: f"utility {n.player}"}
        spans: dict[str, ast.Span] = {}
        for node in self.spec.statements:
            key = keys.get(type(node))
            if key is not None:
                spans.setdefault(key(node), node.span)
        return spans

    # ================================================================ declarations
    def _indexed_random(self, node: ast.ParamRandomIndexed) -> None:
        shape = tuple(self.size_of(b) for b in node.bindings)
        dists = []
        for index in m.all_indices(shape):
            ctx = Context({b.index: sp.Integer(k) for b, k in zip(node.bindings, index)})
            dists.append(self._distribution(node.distribution, ctx))
        self.indexed_randoms[node.name] = g.IndexedRandom(node.name, shape, distributions=tuple(dists))
        self.index_sizes[node.name] = tuple(b.size for b in node.bindings)

    def _player(self, node: ast.PlayerDecl) -> None:
        self.size_of(node.binding)
        self.players[node.name] = node

    def _strategy(self, node: ast.StrategyDecl) -> None:
        owner = self.players.get(node.owner)
        if owner is None:
            players = [n for n, d in self.declared.items() if d.kind == "player"]
            raise fail(f"'{node.owner}' is not a declared leader or follower", node.span,
                       hint=did_you_mean(node.owner, players) or "declare it with `leader NAME[i in I]`")
        if not node.shape or node.shape[0] != owner.binding.size:
            raise fail(f"the first index of strategy '{node.name}' must be its owner's index: "
                       f"{node.owner} ranges over {owner.binding.size}", node.span,
                       hint=f"write `strategy {node.name}[{', '.join((owner.binding.size, *node.shape[1:]))}] "
                            f"of {node.owner} ...`")
        shape = self._shape(node.shape, node.span)
        lower_bound = self.numeric(node.lower, "a lower bound")
        if node.upper is None:
            raise fail(f"strategy '{node.name}' needs finite bounds `in [low, high]`", node.span,
                       hint="equilibria are searched and certified on a bounded strategy set")
        upper = self.numeric(node.upper, "an upper bound")
        if not upper > lower_bound:
            raise fail(f"empty bounds [{lower_bound:g}, {upper:g}] for strategy '{node.name}'", node.span,
                       hint="the lower bound must be below the upper bound")
        self.strategies[node.name] = g.Strategy(node.name, shape, owner=node.owner, lower=lower_bound, upper=upper)
        self.index_sizes[node.name] = node.shape

    # ================================================================ Scope protocol
    def resolve_name(self, node: ast.Name, ctx: Context) -> sp.Expr:
        kind = self._kind(node.name)
        if kind in ("strategy", "indexed random parameter"):
            shape = self.index_sizes.get(node.name, ())
            raise fail(f"'{node.name}' needs {len(shape)} index(es), e.g. {node.name}[{', '.join(s.lower() for s in shape)}]",
                       node.span)
        if kind == "player":
            raise fail(f"'{node.name}' names a player; it has no value", node.span,
                       hint="use one of its strategies, e.g. p[i]")
        return super().resolve_name(node, ctx)

    def _indexed_entity(self, name: str) -> m.Indexed | None:
        return self.strategies.get(name) or self.indexed_randoms.get(name) or super()._indexed_entity(name)

    def _decision_symbols(self) -> list[sp.Symbol]:
        return [s for v in self.strategies.values() for s in v.symbols()]

    # ================================================================ utilities
    def _utilities(self) -> dict[str, tuple[sp.Expr, ...]]:
        found: dict[str, tuple[sp.Expr, ...]] = {}
        for node in self._of(ast.PlayerUtility):
            if node.player in found:
                self._error(f"a second utility for '{node.player}'", node.span)
                continue
            result = self._attempt(self._utility_of, node)
            if result is not None:
                found[node.player] = result
        return found

    def _utility_of(self, node: ast.PlayerUtility) -> tuple[sp.Expr, ...]:
        player = self.players.get(node.player)
        if player is None:
            if node.player in self._failed:
                raise _quiet(node.player)
            players = [n for n, d in self.declared.items() if d.kind == "player"]
            raise fail(f"'{node.player}' is not a declared leader or follower", node.span,
                       hint=did_you_mean(node.player, players))
        self._check_indices(node.body, {node.index: player.binding.size})
        own = [s for s in self.strategies.values() if s.owner == node.player]
        if not own:
            if any(isinstance(d, ast.StrategyDecl) and d.name in self._failed
                   for d in self.spec.statements):
                raise _quiet(node.player)  # its strategy declaration already has a reported mistake
            raise fail(f"player '{node.player}' has no strategy", player.span,
                       hint=f"declare one, e.g. `strategy x[{player.binding.size}] of {node.player} in [0, 1]`")
        utilities = []
        for k in range(self.sizes[player.binding.size]):
            expr = lower(node.body, self, Context({node.index: sp.Integer(k)}))
            mine = {sym for s in own for sym in s.symbols_of(k)}
            if not expr.free_symbols & mine:
                raise fail(f"the utility of {node.player}[{k}] does not depend on its own strategy "
                           f"({', '.join(s.name for s in own)})", node.body.span,
                           hint=f"a player's utility must involve what it chooses; index it by '{node.index}'")
            utilities.append(expr)
        return tuple(utilities)

    def _populations(self, utilities) -> tuple[tuple[g.Player, ...], tuple[g.Player, ...]]:
        out: dict[str, list[g.Player]] = {"leader": [], "follower": []}
        for name, node in self.players.items():
            if name not in utilities:
                typo = any(isinstance(u, ast.PlayerUtility) and u.player not in self.players
                           for u in self.spec.statements)
                if not typo and not any(isinstance(u, ast.PlayerUtility) and u.player == name
                                        for u in self.spec.statements):
                    self._error(f"player '{name}' has no utility", node.span,
                                hint=f"add `utility {name}[{node.binding.index}] = ...`")
                continue
            strategies = tuple(s.name for s in self.strategies.values() if s.owner == name)
            out[node.role].append(g.Player(name, node.role, self.sizes[node.binding.size], strategies,
                                           utilities[name]))
        if not out["leader"] and not self.diagnostics:
            end = len(source_lines(self.spec.source))
            self._error("the game declares no leader", ast.Span(end, 1, end, 2), hint="add `leader NAME[i in I]`")
        if not out["follower"] and not self.diagnostics:
            end = len(source_lines(self.spec.source))
            self._error("the game declares no follower", ast.Span(end, 1, end, 2), hint="add `follower NAME[n in N]`")
        return tuple(out["leader"]), tuple(out["follower"])

    # ================================================================ budgets
    def _budget(self, node: ast.ConstraintPlain) -> tuple[g.Budget, ...]:
        """`sum(own strategies) <= c for n in N`: one budget per follower instance."""
        bound_sizes = {b.index: b.size for b in node.quantifier}
        self._check_indices(node.left, bound_sizes)
        self._check_indices(node.right, bound_sizes)
        if node.comparator != "<=":
            raise fail("a game constraint is a budget `sum(own strategies) <= bound`", node.span,
                       hint="write it with '<=', e.g. `constraint sum(i in I, o[n, i]) <= 1 for n in N`")
        contexts = [Context()]
        for binding in node.quantifier:
            contexts = [c.with_local(binding.index, sp.Integer(k)) for c in contexts for k in range(self.size_of(binding))]
        budgets = []
        decision = set(self._decision_symbols())
        for ctx in contexts:
            slack = sp.expand(lower(node.right, self, ctx) - lower(node.left, self, ctx))
            symbols = sorted(slack.free_symbols & decision, key=lambda s: s.name)
            if not symbols:
                raise fail("the constraint mentions no strategy", node.span)
            owners = {(self.strategies[s.name.split("[")[0]].owner, int(s.name.split("[")[1].split(",")[0].rstrip("]")))
                      for s in symbols}
            if len(owners) != 1:
                raise fail("a budget constrains the strategies of one player: it mixes "
                           + ", ".join(f"{o}[{k}]" for o, k in sorted(owners)), node.span,
                           hint="quantify over the player's index, e.g. `for n in N`")
            if any(slack.coeff(s) != -1 for s in symbols) or not sp.Poly(slack, *symbols).is_linear:
                raise fail("a budget must read `sum of strategies <= bound` (coefficients 1)", node.span)
            rest = slack + sp.Add(*symbols)
            bound = rest.xreplace(self._constant_substitution())
            if not bound.is_number or float(bound) <= 0:
                raise fail("the bound of a budget must be a positive constant", node.right.span)
            (owner, k), = owners
            budgets.append(g.Budget(owner, k, tuple(symbols), float(bound), node.span.line))
        return tuple(budgets)

    # ================================================================ auction
    def _auction(self, node: ast.AuctionDecl) -> g.AuctionSpec:
        mechanisms = [i for i in node.items if isinstance(i, ast.AuctionMechanism)]
        sides = {side: [i for i in node.items if isinstance(i, ast.AuctionSide) and i.side == side]
                 for side in ("buyer", "seller")}
        steps = [i for i in node.items if isinstance(i, ast.AuctionStep)]
        if len(mechanisms) != 1:
            raise fail("an auction names exactly one mechanism", node.span,
                       hint=f"add `mechanism double_dutch` (one of: {', '.join(AUCTION_MECHANISMS)})")
        mechanism = mechanisms[0]
        if mechanism.name not in AUCTION_MECHANISMS:
            raise fail(f"unknown auction mechanism '{mechanism.name}'", mechanism.span,
                       hint=did_you_mean(mechanism.name, AUCTION_MECHANISMS)
                       or f"choose one of: {', '.join(AUCTION_MECHANISMS)}")
        built = {}
        for side, items in sides.items():
            if len(items) != 1:
                raise fail(f"an auction declares exactly one {side} population", node.span)
            built[side] = self._auction_side(items[0])
        step = None
        if steps:
            step = self.numeric(steps[0].value, "the clock step")
            if step <= 0:
                raise fail(f"the clock step must be positive, got {step:g}", steps[0].span)
            if mechanism.name != "double_dutch":
                raise fail(f"'{mechanism.name}' is a sealed-bid auction and has no clock step", steps[0].span)
        return g.AuctionSpec(node.name, mechanism.name, built["buyer"], built["seller"], step)

    def _auction_side(self, item: ast.AuctionSide) -> g.AuctionSide:
        player = self.players.get(item.name)
        if player is not None and player.binding.size != item.binding.size:
            raise fail(f"'{item.name}' ranges over {player.binding.size}, not {item.binding.size}", item.binding.span)
        if player is None and item.name in self.declared:
            raise fail(f"'{item.name}' is already defined as a {self._kind(item.name)}", item.span)
        size = self.size_of(item.binding)
        self._check_indices(item.quantity, {item.binding.index: item.binding.size})
        quantities, dists = [], []
        for k in range(size):
            ctx = Context({item.binding.index: sp.Integer(k)})
            quantities.append(lower(item.quantity, self, ctx))
            dists.append(self._distribution(item.distribution, ctx, allowed=("uniform", "loguniform", "choice")))
        return g.AuctionSide(item.name, size, tuple(quantities), tuple(dists))


def _quiet(name: str) -> LoweringError:
    return _AlreadyReported(name)


def check_game(spec: ast.Spec, overrides: dict[str, float] | None = None) -> g.GameModel:
    """Check a parsed game spec and build its `GameModel`; raises `SpecError` listing every mistake."""
    return GameChecker(spec, dict(overrides or {})).check()


def load_game_source(source: str, path: str = "<string>", overrides: dict[str, float] | None = None) -> g.GameModel:
    from mechdsl.lang.parser import parse

    return check_game(parse(source, path), overrides)
