"""SymPy -> PyTorch source printer used by the code generator.

`TensorPrinter` subclasses SymPy's `TorchPrinter` (sympy.printing.pytorch) and fixes what
SymPy 1.14 gets wrong for batched tensors:

  * `Max`/`Min`: SymPy prints `torch.max(0, x)` (a reduction, fails on a number); we emit
    `torch.maximum(a, b)` chains, numeric arguments folded into `torch.clamp(.., min=c)`;
  * `Heaviside(x, h0)`: SymPy passes a Python scalar as `values`; we emit
    `torch.heaviside(x, torch.full_like(x, h0))` (dtype and device of x);
  * numbers: every SymPy number becomes a Python float literal (`repr(float)`), so
    integer powers and rationals never produce integer tensors or `1/3` integer division;
    so does every numeric subexpression (`sqrt(2)`, `log(5)`, which SymPy keeps exact):
    torch functions accept tensors only, and the generator folds constants into the
    formulas, which leaves such subexpressions behind;
  * roots: x**p with 0 < p < 1 (and sqrt) print through a double `torch.where`, the same
    value and a finite gradient at x = 0 (`_print_root`);
  * powers: Python's `**` (works for float ** tensor and tensor ** tensor, where
    `torch.pow(float, float)` does not); a positive number to a tensor power c**x is
    printed `torch.exp(log(c) x)`, several times faster than torch's scalar-base pow;
  * numeric payment inverses (`PaymentRoot`, where SymPy has no closed form): a call of
    `mechdsl.runtime.payment_root.payment_root` with the utility and its slope as lambdas;
  * symbols: each model symbol (`T2[1, 0]`) is mapped to a local variable name chosen by
    the generator; an unmapped symbol or a name that is not a safe identifier raises
    `UnsafeIdentifier` instead of being pasted into source code.

`emit_function_body` runs `sympy.cse` first so shared subexpressions are computed once.
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass

import sympy as sp
from sympy.printing.pytorch import TorchPrinter


class UnsafeIdentifier(ValueError):
    """A name that would not be a plain Python identifier in generated code."""


def check_identifier(name: str) -> str:
    """`name` itself if it is a Python identifier and not a keyword, else raise."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise UnsafeIdentifier(f"{name!r} is not a safe Python identifier")
    return name


def float_literal(value) -> str:
    """A Python float literal for a number, deterministic (`repr` of a float)."""
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        return f"float({str(number)!r})"
    text = repr(number)
    return f"({text})" if number < 0 else text


class TensorPrinter(TorchPrinter):
    """Prints SymPy expressions as torch code over named local tensors."""

    def __init__(self, names: dict[sp.Symbol, str]):
        super().__init__({"fully_qualified_modules": True, "strict": True})
        self.names = {symbol: check_identifier(name) for symbol, name in names.items()}
        self._root_count = 0  # locals `_root<n>` bound by `_print_root`

    def _print(self, expr, **kwargs):
        if isinstance(expr, sp.Expr) and not expr.is_Atom and expr.is_number:
            value = sp.N(expr, 17)
            if not value.is_real:
                raise ValueError(f"{expr} is not a real number; the torch code generator needs real constants")
            return float_literal(value)
        return super()._print(expr, **kwargs)

    # ------------------------------------------------------------- atoms
    def _print_Symbol(self, expr):
        try:
            return self.names[expr]
        except KeyError:
            raise UnsafeIdentifier(f"symbol {expr.name!r} has no local variable in the generated code") from None

    _print_Dummy = _print_Symbol

    def _print_Float(self, expr):
        return float_literal(expr)

    def _print_Integer(self, expr):
        return float_literal(expr)

    def _print_Rational(self, expr):
        return float_literal(expr)

    _print_Half = _print_Rational
    _print_One = _print_Integer
    _print_Zero = _print_Integer
    _print_NegativeOne = _print_Integer

    def _print_NumberSymbol(self, expr):
        return float_literal(expr.evalf(17))

    _print_Pi = _print_NumberSymbol
    _print_Exp1 = _print_NumberSymbol

    # ------------------------------------------------------------- operations
    def _print_Pow(self, expr, rational=False):
        base, exponent = expr.args
        if _has_infinite_slope_at_zero(base, exponent):
            return self._print_root(base, exponent)
        if exponent == sp.S.Half:
            return f"torch.sqrt({self._print(base)})"
        if exponent == -1:
            return f"(1.0/{self.parenthesize(base, 1000)})"
        if exponent.is_Integer and exponent == 2:
            b = self.parenthesize(base, 1000)
            return f"({b}*{b})"
        if base.is_number and base.is_positive:  # c**x = exp(log(c) x): torch's scalar-base pow is ~10x slower
            return f"torch.exp({self._print(sp.Float(sp.log(base).evalf(17), 17) * exponent)})"
        return f"({self.parenthesize(base, 1000)}**{self.parenthesize(exponent, 1000)})"

    def _print_root(self, base, exponent) -> str:
        """x**p for 0 < p < 1 with a finite gradient at x = 0, the same value everywhere.

        d/dx x^p = p x^(p-1) is infinite at x = 0 (the beta-fairness x^(1-beta)/(1-beta) at a
        zero allocation), and a zero factor downstream of it (a stick-breaking allocation at
        its bound) turns inf * 0 into a NaN gradient. The double `torch.where` evaluates the
        power at 1 where x = 0 and returns 0 there, so both the value (0^p = 0, NaN for x < 0
        as before) and the other entries' gradients are exact; the gradient at x = 0 is 0, a
        supergradient choice for a concave root at the boundary of its domain."""
        if base.is_Symbol:
            first = b = self._print(base)
        else:  # a compound base is evaluated once, bound to a fresh local by `:=`
            b = f"_root{self._root_count}"
            self._root_count += 1
            first = f"({b} := {self._print(base)})"
        power = f"torch.sqrt({{}})" if exponent == sp.S.Half else f"({{}}**{self.parenthesize(exponent, 1000)})"
        inner = power.format(f"torch.where({b} == 0.0, 1.0, {b})")
        return f"torch.where({first} == 0.0, 0.0, {inner})"

    def _print_extremum(self, expr, pairwise: str, clamp_keyword: str, pick):
        numeric = [a for a in expr.args if a.is_number]
        symbolic = [a for a in expr.args if not a.is_number]
        if not symbolic:
            return float_literal(pick(float(a) for a in numeric))
        code = self._print(symbolic[0])
        for other in symbolic[1:]:
            code = f"torch.{pairwise}({code}, {self._print(other)})"
        if numeric:
            bound = float_literal(pick(float(a) for a in numeric))
            code = f"torch.clamp({code}, {clamp_keyword}={bound})"
        return code

    def _print_Max(self, expr):
        return self._print_extremum(expr, "maximum", "min", max)

    def _print_Min(self, expr):
        return self._print_extremum(expr, "minimum", "max", min)

    def _print_Heaviside(self, expr):
        x = self._print(expr.args[0])
        h0 = float_literal(expr.args[1]) if len(expr.args) > 1 else "0.5"
        return f"torch.heaviside({x}, torch.full_like({x}, {h0}))"

    def _print_Abs(self, expr):
        return f"torch.abs({self._print(expr.args[0])})"

    def _print_Piecewise(self, expr):
        """Piecewise((e1, c1), ..., (en, cn)) -> nested torch.where, the first true condition
        wins and no true condition gives NaN (SymPy's solve can return a Piecewise payment)."""
        code = "float('nan')"
        for piece in reversed(expr.args):
            if piece.cond == sp.true:
                code = self._print_value(piece.expr)
            else:
                code = f"torch.where({self._print(piece.cond)}, {self._print_value(piece.expr)}, {code})"
        return code

    def _print_PaymentRoot(self, expr):
        """A numeric payment inverse (`mechdsl.reduce.numeric_inverse.PaymentRoot`) ->
        `payment_root(u, u_t, target, (z...), low, high, increasing)` of
        `mechdsl.runtime.payment_root` (batched bisection, one Newton step with gradients). u and
        u_t are lambdas of the payment `_y` and of the root's non-numeric arguments `_z<i>`; its
        numeric arguments (folded constants) are substituted into them, so torch functions only
        ever see tensors."""
        root = type(expr)
        target, *values = expr.args
        numeric = {slot: value for slot, value in zip(root.slots, values) if value.is_number}
        free = [(slot, value) for slot, value in zip(root.slots, values) if not value.is_number]
        names = {root.payment: "_y", **{slot: f"_z{i}" for i, (slot, _) in enumerate(free)}}
        inner = TensorPrinter(names)
        parameters = ", ".join(["_y", *(f"_z{i}" for i in range(len(free)))])
        utility = inner.doprint(root.utility.xreplace(numeric))
        slope = inner.doprint(sp.diff(root.utility, root.payment).xreplace(numeric))
        arguments = "".join(f"{self._print(value)}, " for _, value in free)
        return (f"payment_root(lambda {parameters}: {utility}, lambda {parameters}: {slope}, "
                f"{self._print_value(target)}, ({arguments}), {float_literal(root.low)}, {float_literal(root.high)}, "
                f"{root.increasing!r})")

    def _print_value(self, value):
        """A branch of torch.where: numbers become Python floats (broadcast by torch.where)."""
        return float_literal(value) if value.is_number else self._print(value)


def _has_infinite_slope_at_zero(base, exponent) -> bool:
    """Whether base**exponent has an unbounded derivative at base = 0: a non-integer
    exponent known to be positive and not known to be >= 1 (a root x^p, 0 < p < 1)."""
    if base.is_number or exponent.is_integer or exponent.is_positive is not True:
        return False
    return (exponent - 1).is_nonnegative is not True


@dataclass(frozen=True)
class FunctionBody:
    """Straight-line code: `assignments` (local, code) in order, then `result` code."""

    assignments: tuple[tuple[str, str], ...]
    results: tuple[str, ...]


def emit_function_body(exprs: list[sp.Expr], names: dict[sp.Symbol, str], prefix: str = "t") -> FunctionBody:
    """cse the expressions, then print each shared subexpression and each result."""
    check_identifier(prefix)
    temporaries = sp.numbered_symbols(prefix=f"{prefix}_", real=True)
    shared, reduced = sp.cse(exprs, symbols=temporaries, order="canonical")
    local_names = dict(names)
    for symbol, _ in shared:
        local_names[symbol] = symbol.name
    printer = TensorPrinter(local_names)
    assignments = tuple((symbol.name, printer.doprint(value)) for symbol, value in shared)
    return FunctionBody(assignments, tuple(printer.doprint(r) for r in reduced))


def print_expression(expr: sp.Expr, names: dict[sp.Symbol, str]) -> str:
    """One expression without cse (for short ones such as a utility or a slack)."""
    return TensorPrinter(names).doprint(expr)
