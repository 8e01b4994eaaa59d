"""Distribution sampling, defined once for every consumer of a spec's distributions.

What a distribution means is written here once, on top of a few primitive draws that each
array library supplies (`TorchDraws`: tensors on a device and dtype from a
`torch.Generator`, for the generated envs; `NumpyDraws`: arrays from a
`numpy.random.Generator`, for `mechdsl.solve.state`):

    uniform(lo, hi)      lo + (hi - lo) U,  U ~ U[0, 1)
    loguniform(lo, hi)   exp(uniform(log lo, log hi))
    normal(mu, sd)       mu + sd Z,  Z ~ N(0, 1)
    choice(v_1..v_m)     v_J,  J uniform on {0..m-1}
    bernoulli(p)         1 if U < p else 0
    dirichlet(alpha)     rows of G_j / sum_k G_k,  G_j ~ Gamma(alpha_j, 1)
                         (NumPy: `Generator.dirichlet`, the same law)

A state entity fills consecutive state columns and is one of the blocks below: a scalar
draw (`Scalar`), one draw per type sorted ascending (`SortedTypes`), the rows of a
probability table drawn from a Dirichlet law (`DirichletRows`), or fixed values repeated
for every state (`Fixed`). `sample_columns(blocks, n, draws)` draws them in order; the
order of the blocks fixes how the random stream is consumed. Arguments may be numbers or,
for the torch draws of a sequential scenario, per-sample tensors (`TorchDraws.like`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch


class TorchDraws:
    """Primitive draws of torch tensors of one device and dtype from `generator`."""

    def __init__(self, generator: torch.Generator | None, device: str | torch.device, dtype: torch.dtype):
        self.generator, self.device, self.dtype = generator, torch.device(device), dtype

    @classmethod
    def like(cls, tensor: torch.Tensor, generator: torch.Generator | None) -> "TorchDraws":
        """Draws on the device and dtype of `tensor` (shape it with `tensor.shape`)."""
        return cls(generator, tensor.device, tensor.dtype)

    def uniform(self, shape, low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(shape, generator=self.generator, device=self.device, dtype=self.dtype)

    def normal(self, shape, mean: float, sd: float) -> torch.Tensor:
        return mean + sd * torch.randn(shape, generator=self.generator, device=self.device, dtype=self.dtype)

    def integers(self, shape, count: int) -> torch.Tensor:
        return torch.randint(count, shape, generator=self.generator, device=self.device)

    def dirichlet(self, leading: tuple[int, ...], alpha: Sequence[float]) -> torch.Tensor:
        """(*leading, len(alpha)) Dirichlet(alpha) rows as normalised Gamma(alpha_j, 1) draws."""
        concentration = self.constant(alpha).expand(*leading, len(alpha))
        gamma = torch._standard_gamma(concentration.contiguous(), generator=self.generator)
        return gamma / gamma.sum(-1, keepdim=True)

    def constant(self, values: Sequence[float]) -> torch.Tensor:
        return torch.tensor(values, device=self.device, dtype=self.dtype)

    def repeat(self, values: Sequence[float], n: int) -> torch.Tensor:
        return self.constant(values).expand(n, len(values))

    def indicator(self, event: torch.Tensor) -> torch.Tensor:
        return event.to(self.dtype)

    @staticmethod
    def log(value):
        """log of a number (math.log, as the compiled constants) or of a tensor argument."""
        return torch.log(value) if isinstance(value, torch.Tensor) else math.log(value)

    exp = staticmethod(torch.exp)

    @staticmethod
    def ascending(columns: list[torch.Tensor]) -> torch.Tensor:
        return torch.sort(torch.stack(columns, 1), 1).values

    @staticmethod
    def join(blocks: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(blocks, 1)


class NumpyDraws:
    """Primitive draws of float64 NumPy arrays from `rng`."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def uniform(self, shape, low: float, high: float) -> np.ndarray:
        return self.rng.uniform(low, high, shape)

    def normal(self, shape, mean: float, sd: float) -> np.ndarray:
        return self.rng.normal(mean, sd, shape)

    def integers(self, shape, count: int) -> np.ndarray:
        return self.rng.integers(count, size=shape)

    def dirichlet(self, leading: tuple[int, ...], alpha: Sequence[float]) -> np.ndarray:
        return self.rng.dirichlet(np.asarray(alpha, dtype=float), size=leading)

    @staticmethod
    def constant(values: Sequence[float]) -> np.ndarray:
        return np.asarray(values, dtype=float)

    def repeat(self, values: Sequence[float], n: int) -> np.ndarray:
        return np.broadcast_to(self.constant(values), (n, len(values)))

    @staticmethod
    def indicator(event: np.ndarray) -> np.ndarray:
        return event.astype(float)

    log = staticmethod(np.log)
    exp = staticmethod(np.exp)

    @staticmethod
    def ascending(columns: list[np.ndarray]) -> np.ndarray:
        return np.sort(np.stack(columns, axis=1), axis=1)

    @staticmethod
    def join(blocks: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(blocks, axis=1)


Draws = TorchDraws | NumpyDraws


# ------------------------------------------------------------------ distributions
def uniform(draws: Draws, shape, low: float, high: float):
    return draws.uniform(shape, low, high)


def loguniform(draws: Draws, shape, low: float, high: float):
    return draws.exp(draws.uniform(shape, draws.log(low), draws.log(high)))


def normal(draws: Draws, shape, mean: float, sd: float):
    return draws.normal(shape, mean, sd)


def choice(draws: Draws, shape, *values: float):
    index = draws.integers(shape, len(values))
    return draws.constant(values)[index]


def bernoulli(draws: Draws, shape, p: float):
    """1 with probability p, else 0: the event U < p, U ~ U[0, 1)."""
    return draws.indicator(draws.uniform(shape, 0.0, 1.0) < p)


SCALAR_DISTRIBUTIONS: dict[str, Callable] = {  # distribution name -> draw(draws, shape, *args)
    "uniform": uniform, "loguniform": loguniform, "normal": normal, "choice": choice, "bernoulli": bernoulli}


def draw(draws: Draws, name: str, args: Sequence[float], shape):
    """`shape` draws of the scalar distribution `name(*args)`."""
    if name not in SCALAR_DISTRIBUTIONS:
        raise ValueError(f"cannot draw a scalar from {name}{tuple(args)}")
    return SCALAR_DISTRIBUTIONS[name](draws, shape, *args)


# ------------------------------------------------------------------ state entities
@dataclass(frozen=True)
class Scalar:
    """One column: a draw of `distribution(*args)`."""

    distribution: str
    args: tuple[float, ...]

    def block(self, draws: Draws, n: int):
        return draw(draws, self.distribution, self.args, (n,))[:, None]


@dataclass(frozen=True)
class SortedTypes:
    """One column per type: one draw of each (distribution, args), sorted ascending per state."""

    distributions: tuple[tuple[str, tuple[float, ...]], ...]

    def block(self, draws: Draws, n: int):
        return draws.ascending([draw(draws, name, args, (n,)) for name, args in self.distributions])


@dataclass(frozen=True)
class DirichletRows:
    """rows x len(alpha) columns, row-major: every row of the table ~ Dirichlet(alpha)."""

    rows: int
    alpha: tuple[float, ...]

    def block(self, draws: Draws, n: int):
        return draws.dirichlet((n, self.rows), self.alpha).reshape(n, self.rows * len(self.alpha))


@dataclass(frozen=True)
class Fixed:
    """The same values (row-major) in every state."""

    values: tuple[float, ...]

    def block(self, draws: Draws, n: int):
        return draws.repeat(self.values, n)


Block = Scalar | SortedTypes | DirichletRows | Fixed


def sample_columns(blocks: Sequence[Block], n: int, draws: Draws):
    """(n, total width) states: the blocks drawn in order, their columns side by side."""
    return draws.join([block.block(draws, n) for block in blocks])


__all__ = ["Block", "DirichletRows", "Draws", "Fixed", "NumpyDraws", "SCALAR_DISTRIBUTIONS", "Scalar", "SortedTypes",
           "TorchDraws", "bernoulli", "choice", "draw", "loguniform", "normal", "sample_columns", "uniform"]
