"""The payment inverse phi(theta, x, v) as a numeric root where SymPy has no closed form.

`payment_inverse.py` solves u(theta, x, y) = v for the payment y. Where SymPy cannot (Stiglitz
insurance with log utility, u = (1 - p) log(W - y) + p log(W - L + x - y) - ...) but u is
strictly monotone in y on the declared bounds [lo, hi] of the payment (f du/dy > 0, decided as
single crossing decides it, `monotone_in_payment`), the inverse is still a function:

    phi(theta, x, v) = the root in y of  u(theta, x, y) - v = 0  on [lo, hi].

`PaymentRoot` is that function as a SymPy `Function` of (v, theta, x, parameters of u), so the
reduction's rules, ranges and certificates hold it like any closed form:

* its derivatives are the implicit function theorem's: dphi/dv = 1 / u_y, dphi/dz = -u_z / u_y
  at y = phi (z = theta, x or a parameter), so SymPy differentiates rules through it;
* NumPy (`lambdify`, the exact solvers) evaluates it by SciPy's brentq on [lo, hi] to
  ROOT_XTOL, elementwise (`numpy_root`); the generated env by batched bisection and one
  Newton step in torch (`mechdsl.runtime.payment_root`);
* where u - v has no root in [lo, hi] both continue the same way: from the bound nearer the
  root, one Newton step y = b - (u(b) - v) / u_y(b) leaves the bounds, so the declared payment
  bound fails and the contract is infeasible (never clamped into the bounds silently);
* `str` prints `(root in y of insuree(p[0], x[0], y) = 0 on [0, 5])` (what `derive` shows).

The utility, its slots and the bounds are class attributes of a subclass built per model
(`root_class`), so every instance carries only expressions in the model's symbols.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp


ROOT_XTOL = 1e-14  # brentq's absolute tolerance on the payment (its rtol is 4 eps): float64 precision


class PaymentRoot(sp.Function):
    """root in `payment` of utility(slots = args[1:], payment) = args[0] on [low, high]; the
    attributes below are set by `root_class`."""

    utility: sp.Expr
    payment: sp.Dummy
    slots: tuple[sp.Dummy, ...]
    low: float
    high: float
    agent: str
    increasing: bool  # du/dy > 0 on [low, high] (else < 0)

    @classmethod
    def eval(cls, *args):
        return None

    def _at(self) -> dict:
        return {**dict(zip(self.slots, self.args[1:])), self.payment: self}

    def fdiff(self, argindex=1):
        """Implicit function theorem: dphi/dv = 1 / u_y, dphi/dz = -u_z / u_y at y = phi."""
        u_y = sp.diff(self.utility, self.payment).xreplace(self._at())
        if argindex == 1:
            return 1 / u_y
        slot = self.slots[argindex - 2]
        return -sp.diff(self.utility, slot).xreplace(self._at()) / u_y

    def _eval_evalf(self, prec):
        if not all(a.is_number for a in self.args):
            return None
        values = [float(a) for a in self.args]
        return sp.Float(float(numpy_root(type(self), *values)), prec)

    def _sympystr(self, printer):
        theta, x = (printer._print(a) for a in self.args[1:3])
        others = [f"{s.name} = {printer._print(a)}" for s, a in zip(self.slots[2:], self.args[3:])
                  if not (isinstance(a, sp.Symbol) and a.name == s.name)]
        where = f" with {', '.join(others)}" if others else ""
        return (f"(root in {self.payment.name} of {self.agent}({theta}, {x}, {self.payment.name}) = "
                f"{printer._print(self.args[0])} on [{self.low:g}, {self.high:g}]{where})")

    def _latex(self, printer):
        theta, x = (printer._print(a) for a in self.args[1:3])
        y = self.payment.name
        return (rf"\operatorname{{root}}_{{{y} \in [{self.low:g}, {self.high:g}]}}\left[u\left({theta}, {x}, {y}\right) = "
                rf"{printer._print(self.args[0])}\right]")


def root_class(agent: str, utility: sp.Expr, y: sp.Symbol, theta: sp.Symbol, x: sp.Symbol,
               low: float, high: float, increasing: bool) -> tuple[type[PaymentRoot], list[sp.Symbol]]:
    """The `PaymentRoot` of `utility` (in y, theta, x and its parameters) on [low, high]: slots
    are Dummies for theta, x and each parameter (in name order), so the class holds no symbol a
    spec could name. Its NumPy implementation (`_imp_`) lets `lambdify` call it. Returns the class
    and the parameters, the symbols its instances take after (v, theta, x)."""
    parameters = sorted(utility.free_symbols - {y, theta, x}, key=lambda s: s.name)
    slots = tuple(sp.Dummy(s.name, real=True) for s in (theta, x, *parameters))
    payment = sp.Dummy(y.name, real=True)
    template = utility.xreplace({**dict(zip((theta, x, *parameters), slots)), y: payment})
    cls = type("PaymentRoot", (PaymentRoot,), {
        "utility": template, "payment": payment, "slots": slots, "low": float(low), "high": float(high),
        "agent": agent, "increasing": bool(increasing), "nargs": len(slots) + 1})
    cls._imp_ = staticmethod(lambda *args: numpy_root(cls, *args))
    return cls, parameters


@lru_cache(maxsize=64)
def _numpy_functions(cls: type[PaymentRoot]):
    arguments = [cls.payment, *cls.slots]
    u = sp.lambdify(arguments, cls.utility, "numpy")
    u_y = sp.lambdify(arguments, sp.diff(cls.utility, cls.payment), "numpy")
    return u, u_y


def numpy_root(cls: type[PaymentRoot], target, *slots) -> np.ndarray | float:
    """Elementwise root in y of u(slots, y) = target on [low, high] by SciPy's brentq
    (xtol ROOT_XTOL); where u - target keeps one sign on the bounds, one Newton step from the
    bound nearer the root (outside the bounds: module docstring)."""
    from scipy.optimize import brentq

    u, u_y = _numpy_functions(cls)
    arrays = np.broadcast_arrays(np.asarray(target, dtype=float), *(np.asarray(s, dtype=float) for s in slots))
    out = np.empty(arrays[0].shape)
    for index in np.ndindex(out.shape):
        v, *z = (float(a[index]) for a in arrays)
        gap = lambda y: float(u(y, *z)) - v  # noqa: E731
        with np.errstate(all="ignore"):
            at_low, at_high = gap(cls.low), gap(cls.high)
        if at_low == 0.0 or at_high == 0.0:
            out[index] = cls.low if at_low == 0.0 else cls.high
            continue
        if np.isfinite(at_low) and np.isfinite(at_high) and np.sign(at_low) != np.sign(at_high):
            out[index] = brentq(gap, cls.low, cls.high, xtol=ROOT_XTOL)
            continue
        # no root inside: the root lies beyond the bound where the gap is closer to 0
        below = (at_low > 0) == cls.increasing  # u - v has the sign of u(low) - v past the low end
        bound = cls.low if below else cls.high
        with np.errstate(all="ignore"):
            out[index] = bound - gap(bound) / float(u_y(bound, *z))
    return out if out.shape else float(out)


__all__ = ["PaymentRoot", "ROOT_XTOL", "numpy_root", "root_class"]
