"""The checked model of an `auction_design` spec: bidders with their value distributions,
the items, the valuation form, the objective and the incentive constraints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mechdsl import model as m

if TYPE_CHECKING:  # the checker imports this module: no runtime import back into mechdsl.lang
    from mechdsl.lang import ast

VALUATIONS = ("single", "additive", "unit_demand")
OBJECTIVES = ("revenue", "welfare", "mix")


@dataclass(frozen=True)
class Bidder:
    """One bidder, `b[1]`: its value distribution for each item (one entry for a single item)."""

    name: str
    population: str
    distributions: tuple[m.Distribution, ...]
    span: ast.Span = field(compare=False)  # the `bidder` statement's distribution, for positioned refusals


@dataclass(frozen=True)
class AuctionObjective:
    """`maximize revenue` (weight 1), `maximize welfare` (weight 0) or `maximize mix(w)`:
    w * revenue + (1 - w) * welfare."""

    kind: str
    revenue_weight: float

    def __str__(self) -> str:
        return self.kind if self.kind != "mix" else f"mix({self.revenue_weight:g}) = {self.revenue_weight:g} revenue + " \
                                                    f"{1 - self.revenue_weight:g} welfare"


@dataclass(frozen=True)
class AuctionDesignModel:
    name: str
    path: str
    source: str
    sizes: dict[str, int]
    constants: dict[str, m.ConstParam]
    derived: dict[str, m.Derived]
    bidders: tuple[Bidder, ...]
    items: int
    item_size: str | None
    valuation: str
    objective: AuctionObjective
    ir: bool
    ic: bool
    train: dict[str, object] = field(default_factory=dict)

    @property
    def single_parameter(self) -> bool:
        """One private number per bidder: a single item (Myerson's setting)."""
        return self.items == 1

    @property
    def symmetric(self) -> bool:
        return len({b.distributions for b in self.bidders}) == 1

    def summary(self) -> str:
        """A one-screen description (what `mechdsl check` prints)."""
        lines = [f"design auction {self.name}  ({self.path})",
                 f"  sizes       {', '.join(f'{k} = {v}' for k, v in self.sizes.items()) or 'none'}",
                 f"  bidders     {len(self.bidders)}" + (" (symmetric)" if self.symmetric else " (asymmetric)"),
                 f"  items       {self.items}, valuation {self.valuation}",
                 f"  objective   maximize {self.objective}",
                 f"  constraints {', '.join(c for c, on in (('ir (ex post)', self.ir), ('ic (dominant strategy)', self.ic)) if on)}"]
        for bidder in self.bidders:
            lines.append(f"  bidder      {bidder.name} value ~ {', '.join(map(str, bidder.distributions))}")
        return "\n".join(lines)

    def meaning(self) -> tuple:
        """What a formatted spec must keep."""
        return (self.summary(), tuple(sorted(self.train.items())))
