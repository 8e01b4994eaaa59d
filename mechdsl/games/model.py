"""The checked, typed model of a game spec (`game NAME`): what the game solver consumes.

Like `mechdsl.model.Model` for contracts, sizes are concrete and every indexed entity is
expanded into scalar SymPy symbols named as the spec writes them (`o[2, 1]`). Constants,
random parameters (scalar or indexed, one independent draw per entry) and derived `let`
quantities stay symbols; their values come from a sampled state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from mechdsl.model import ConstParam, Derived, Distribution, Indexed, RandomParam, all_indices


@dataclass(frozen=True)
class IndexedRandom(Indexed):
    """`param g[n in N, i in I] ~ dist(...)`: entry `index` drawn from `distributions[flat]`."""

    distributions: tuple[Distribution, ...] = ()


@dataclass(frozen=True)
class Strategy(Indexed):
    """`strategy o[N, I] of WA in [lo, hi]`: entry `o[n, ...]` belongs to player `WA[n]`."""

    owner: str = ""
    lower: float = 0.0
    upper: float = 1.0

    def symbols_of(self, instance: int) -> list[sp.Symbol]:
        """The entries controlled by player instance `instance` (first index == instance)."""
        return [self.symbol(*index) for index in all_indices(self.shape) if index[0] == instance]


@dataclass(frozen=True)
class Player:
    """An indexed population (`leader MA[i in I]`): `count` instances, each with its own
    utility (expanded SymPy expression over strategies and state symbols)."""

    name: str
    role: str  # "leader" | "follower"
    count: int
    strategies: tuple[str, ...]
    utilities: tuple[sp.Expr, ...]


@dataclass(frozen=True)
class Budget:
    """A simplex-type constraint of one player instance: `sum(symbols) <= bound`
    (e.g. the offloading ratios of follower n over all servers sum to at most 1)."""

    player: str
    instance: int
    symbols: tuple[sp.Symbol, ...]
    bound: float
    line: int = 0


@dataclass(frozen=True)
class AuctionSide:
    """Buyers (demand, private values) or sellers (supply, private costs) of the tier-2
    auction. A buyer/seller instance takes part when its quantity is positive."""

    name: str
    count: int
    quantities: tuple[sp.Expr, ...]
    distributions: tuple[Distribution, ...]


@dataclass(frozen=True)
class AuctionSpec:
    name: str
    mechanism: str  # a key of mechdsl.auction.AUCTIONS
    buyers: AuctionSide
    sellers: AuctionSide
    step: float | None


@dataclass(frozen=True)
class GameModel:
    name: str
    path: str
    sizes: dict[str, int]
    constants: dict[str, ConstParam]
    randoms: dict[str, RandomParam]
    indexed_randoms: dict[str, IndexedRandom]
    derived: dict[str, Derived]
    strategies: dict[str, Strategy]
    leaders: tuple[Player, ...]
    followers: tuple[Player, ...]
    budgets: tuple[Budget, ...]
    auction: AuctionSpec | None
    train: dict[str, object] = field(default_factory=dict)  # the spec's `train { ... }` block
    source: str = ""  # the spec's text, for positioned refusals of later stages
    # where each statement a later stage may refuse is written (a `mechdsl.lang.ast.Span`):
    # "game", "auction", "player NAME", "strategy NAME", "utility NAME"
    spans: dict[str, object] = field(default_factory=dict)

    def summary(self) -> str:
        """A one-screen description of the game (what `mechdsl check` prints)."""
        lines = [f"game {self.name}  ({self.path})",
                 f"  sizes       {', '.join(f'{k} = {v}' for k, v in self.sizes.items())}",
                 f"  parameters  {len(self.constants)} constant, {len(self.randoms) + len(self.indexed_randoms)} random, "
                 f"{len(self.derived)} derived"]
        for p in self.players:
            lines.append(f"  {p.role:<11} {p.name} x {p.count}, strategies {', '.join(p.strategies)}")
        for st in self.strategies.values():
            lines.append(f"  strategy    {st.name}{list(st.shape)} of {st.owner} in [{st.lower:g}, {st.upper:g}]")
        for b in self.budgets:
            lines.append(f"  budget      {b.player}[{b.instance}]: {' + '.join(map(str, b.symbols))} <= {b.bound:g}")
        if self.auction:
            a = self.auction
            lines.append(f"  auction     {a.name}: {a.mechanism}, buyers {a.buyers.name} x {a.buyers.count}, "
                         f"sellers {a.sellers.name} x {a.sellers.count}, step {a.step}")
        return "\n".join(lines)

    def meaning(self) -> tuple:
        """What a formatted spec must keep: the summary and every expression."""
        return (self.summary(), tuple((p.name, tuple(map(str, p.utilities))) for p in self.players),
                tuple((n, str(d.expr)) for n, d in self.derived.items()),
                tuple((b.player, b.instance, b.bound) for b in self.budgets))

    @property
    def players(self) -> tuple[Player, ...]:
        return self.leaders + self.followers

    def strategy_symbols(self, player: Player, instance: int) -> list[sp.Symbol]:
        return [s for name in player.strategies for s in self.strategies[name].symbols_of(instance)]

    def bounds_of(self, symbol: sp.Symbol) -> tuple[float, float]:
        name = symbol.name.split("[", 1)[0]
        strategy = self.strategies[name]
        return strategy.lower, strategy.upper
