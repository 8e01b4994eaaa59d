"""The multi-item auction setting a learned mechanism is trained for: who bids, on what, how.

A `Setting` is plain frozen data: `n_bidders` bidders, `n_items` items, a valuation class
and one value distribution per bidder and item (independent). The valuation class says how
a bidder values a (randomised) allocation x_i in [0, 1]^m of the items:

- ``additive``: v_i . x_i, with each item's probabilities summing to at most 1 over bidders;
- ``unit_demand``: also v_i . x_i, where x_i is a lottery over single items (sum_j x_ij <= 1
  for every bidder as well), so a bidder never gets more than one item.

Utilities are quasi-linear: u_i = v_i . x_i - p_i. The objective is revenue, sum_i p_i.
Values are sampled in torch, on the caller's device, from the caller's `torch.Generator`
(the same seed gives the same profiles on a CPU).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from mechdsl.errors import UsageError

VALUATIONS = ("additive", "unit_demand")
OBJECTIVES = ("revenue",)


@dataclass(frozen=True)
class ValueDistribution:
    """One bidder's value for one item: ``uniform(lo, hi)``, the only family so far."""

    name: str
    params: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.name != "uniform":
            raise UsageError(f"value distribution {self.name!r} is not supported by the learned "
                             "auction mechanisms", hint="use uniform(lo, hi)")
        if len(self.params) != 2:
            raise UsageError(f"uniform takes (lo, hi), got {len(self.params)} parameter(s)")
        lo, hi = (float(p) for p in self.params)
        if not 0.0 <= lo < hi:
            raise UsageError(f"uniform({lo}, {hi}) needs 0 <= lo < hi (values are non-negative, "
                             "which the IR of the mechanisms relies on)")

    @property
    def support(self) -> tuple[float, float]:
        return float(self.params[0]), float(self.params[1])


def uniform(lo: float = 0.0, hi: float = 1.0) -> ValueDistribution:
    return ValueDistribution("uniform", (float(lo), float(hi)))


@dataclass(frozen=True)
class Setting:
    """Bidders x items, a valuation class, a value distribution per (bidder, item).

    ``distributions[i][j]`` is bidder i's value for item j; `Setting.iid` builds the
    symmetric case.
    """

    n_bidders: int
    n_items: int
    valuation: str
    distributions: tuple[tuple[ValueDistribution, ...], ...]
    objective: str = "revenue"
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.n_bidders < 1 or self.n_items < 1:
            raise UsageError(f"an auction needs at least one bidder and one item, got "
                             f"{self.n_bidders} bidder(s) x {self.n_items} item(s)")
        if self.valuation not in VALUATIONS:
            raise UsageError(f"valuation {self.valuation!r} is not one of {', '.join(VALUATIONS)}")
        if self.objective not in OBJECTIVES:
            raise UsageError(f"objective {self.objective!r} is not supported by the learned "
                             "mechanisms", hint="use revenue")
        shape = (len(self.distributions), *{len(row) for row in self.distributions})
        if shape != (self.n_bidders, self.n_items):
            raise UsageError(f"distributions must be {self.n_bidders} rows of {self.n_items}, "
                             f"got rows of lengths {[len(r) for r in self.distributions]}")

    @classmethod
    def iid(cls, n_bidders: int, n_items: int, valuation: str = "additive",
            distribution: ValueDistribution | None = None, name: str = "") -> Setting:
        d = distribution or uniform(0.0, 1.0)
        rows = tuple(tuple(d for _ in range(n_items)) for _ in range(n_bidders))
        return cls(n_bidders, n_items, valuation, rows, name=name or
                   f"{n_bidders}x{n_items} {valuation} {d.name}{tuple(d.params)}")

    @property
    def value_dimensions(self) -> int:
        """How many numbers one bidder reports (the dimension a misreport search covers)."""
        return self.n_items

    def bounds(self, device: torch.device | str = "cpu",
               dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
        """Lower and upper ends of every value's support, each shaped (n_bidders, n_items)."""
        lo = [[d.support[0] for d in row] for row in self.distributions]
        hi = [[d.support[1] for d in row] for row in self.distributions]
        return (torch.tensor(lo, device=device, dtype=dtype),
                torch.tensor(hi, device=device, dtype=dtype))

    def sample(self, n: int, generator: torch.Generator | None = None,
               device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """``n`` value profiles, shaped (n, n_bidders, n_items); independent across all entries.

        ``generator`` must live on ``device`` (torch's rule); None uses torch's global one.
        """
        lo, hi = self.bounds(device, dtype)
        u = torch.rand((n, self.n_bidders, self.n_items), generator=generator, device=device,
                       dtype=dtype)
        return lo + (hi - lo) * u


def generator_for(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A torch generator on ``device`` seeded with ``seed``."""
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g
