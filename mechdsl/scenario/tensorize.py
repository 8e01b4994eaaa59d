"""Tensor printing of a scenario's formulas: one torch expression per indexed quantity.

The scenario model expands every indexed quantity into scalars (`rep[2, 1]`, `T_tot(3)`).
Printed one scalar at a time, `agent_migration.mech` became 2,600 lines of (B,) arithmetic.
Here the entries of one *family* (a state variable, an action, a `let` function `f(i, j)`,
the instances of a constraint, a metric, the `next` of a state) are anti-unified into one
template over the family's entity axes, printed once on (B, n_1, ..., n_k) tensors:

    gap(v, s) = |pos[v] - (250, 750, 1250, 1750)[s]|  ->  torch.abs(s_pos[:, :, None] - f_rsu_x[:, None, :])

The columns (the same subexpression of every entry, one per grid point) are walked in
parallel, node by node:

  * a column of symbols of one family G is a *view* of G's tensor: every index of G must be
    the same entity axis of the point at every point (a broadcast dimension, `[:, None]`)
    or one constant (`G[:, 0]`); axes are permuted into the context order;
  * a column of numbers is one number, or a constant table over the axes it varies along;
  * Add / Mul: the arguments of each entry are grouped by *skeleton* (the tree with every
    symbol replaced by its family and every number by a hole); a group of several terms
    whose leaf indices vary together over 0..n-1 (or over all of 0..n-1 but one, the
    entry's own index: `sum(j in V, p(j)) - p(u)`, which SymPy stores as the sum over
    j != u) is a *reduction* `(body).sum(d)` over a new trailing axis; a missing numeric
    term or coefficient is the identity 0 (Add) or 1 (Mul), so `|x|` and `|x - 1|` align;
  * any other function: the same function at every point, arguments aligned in order.

Every template reproduces each entry exactly at its point (by construction: each view,
table and reduction is checked against every point), so vectorising never changes what is
computed, only the order of floating-point operations. A family that does not align
(`NoMatch`) is printed entry by entry (each entry still sums with reductions) and stacked.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from itertools import count

import numpy as np
import sympy as sp

from mechdsl.codegen.printer import TensorPrinter, check_identifier, float_literal
from mechdsl.model import all_indices

class NoMatch(Exception):
    """The entries of a family (or the columns at one node) do not share one template."""


class AxisSum(sp.Function):
    """`AxisSum(body, d)`: the sum of tensor `body` over its dimension d (the last entity
    axis of the body's context; dimension 0 is the batch)."""

    nargs = 2

    def _eval_is_extended_real(self):
        return True

    def _eval_is_real(self):
        return True


class AxisProd(AxisSum):
    """`AxisProd(body, d)`: the product of `body` over its dimension d."""


@dataclass(frozen=True)
class Family:
    """An indexed quantity held as one (B, *shape) tensor named `local`."""

    local: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class View:
    """Metadata of a template leaf: `family` (None for a constant table) and the context
    axes along which the printed tensor is not broadcast."""

    family: Family | None
    axes: frozenset[int]


class ScenarioPrinter(TensorPrinter):
    """`TensorPrinter` plus the scenario functions and the template nodes:
    mod -> torch.remainder (the sign of the divisor, unlike fmod), floor -> torch.floor,
    step -> `_step(x, h0)` (the env's torch.heaviside with a 0-d value of x's dtype, so that
    x is printed once), a view leaf ->
    its indexing code, AxisSum / AxisProd -> `.sum(d)` / `.prod(d)`."""

    def __init__(self, names: dict[sp.Symbol, str], codes: dict[sp.Symbol, str] | None = None):
        super().__init__(names)
        self.codes = codes or {}

    def _print_Symbol(self, expr):
        if expr in self.codes:
            return self.codes[expr]
        return super()._print_Symbol(expr)

    _print_Dummy = _print_Symbol

    def _print_Mod(self, expr):
        a, b = expr.args
        return f"torch.remainder({self._print(a)}, {self._print(b)})"

    def _print_floor(self, expr):
        return f"torch.floor({self._print(expr.args[0])})"

    def _print_Heaviside(self, expr):
        x = self._print(expr.args[0])
        h0 = float_literal(expr.args[1]) if len(expr.args) > 1 else "0.5"
        return f"_step({x}, {h0})"

    def _print_AxisSum(self, expr):
        return f"{self.parenthesize(expr.args[0], 1000)}.sum({int(expr.args[1])})"

    def _print_AxisProd(self, expr):
        return f"{self.parenthesize(expr.args[0], 1000)}.prod({int(expr.args[1])})"


def _is_number(expr: sp.Basic) -> bool:
    return isinstance(expr, sp.Expr) and expr.is_number


@dataclass
class Tensorizer:
    """Builds templates of families over their entity axes (module docstring) and prints
    them; `tables` collects the constant tables (module-level tuples of the package)."""

    places: dict[sp.Symbol, tuple[Family, tuple[int, ...]]]
    tables: dict[str, tuple[tuple[int, ...], tuple[float, ...]]] = field(default_factory=dict)
    codes: dict[sp.Symbol, str] = field(default_factory=dict)
    meta: dict[sp.Symbol, View] = field(default_factory=dict)
    _by_code: dict[str, sp.Symbol] = field(default_factory=dict)
    _table_names: dict[tuple, str] = field(default_factory=dict)
    _skeletons: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.symbol_at = {(family.local, index): symbol for symbol, (family, index) in self.places.items()}
        self._counter = count()

    # ------------------------------------------------------------- templates
    def template(self, exprs: list[sp.Expr], shape: tuple[int, ...]) -> sp.Expr:
        """The one template of `exprs` (the entries of a family of `shape`, row-major);
        raises NoMatch."""
        return self.build(list(exprs), list(all_indices(shape)), tuple(shape))

    def build(self, column: list[sp.Expr], points: list[tuple[int, ...]], axes: tuple[int, ...]) -> sp.Expr:
        numbers = [_is_number(e) for e in column]
        if all(numbers):
            return self.number(column, points, axes)
        if any(numbers):
            raise NoMatch("a number against a formula")
        if all(e.is_Symbol for e in column):
            return self.leaf(column, points, axes)
        if any(e.is_Add for e in column):
            return self.associative(column, points, axes, sp.Add)
        if any(e.is_Mul for e in column):
            return self.associative(column, points, axes, sp.Mul)
        head = column[0].func
        if any(e.func != head or len(e.args) != len(column[0].args) for e in column):
            raise NoMatch("different functions")
        args = [self.build([e.args[k] for e in column], points, axes) for k in range(len(column[0].args))]
        return head(*args)

    def number(self, column, points, axes) -> sp.Expr:
        values = [float(sp.N(e, 17)) for e in column]
        if all(v == values[0] for v in values):
            return column[0]
        grid = np.full(axes, np.nan)
        for point, value in zip(points, values):
            grid[point] = value
        if np.isnan(grid).any():
            raise NoMatch("a table with holes")
        for axis in range(len(axes)):  # keep only the axes the numbers vary along
            first = grid.take([0], axis=axis)
            if np.array_equal(np.broadcast_to(first, grid.shape), grid):
                grid = first
        key = (grid.shape, tuple(grid.ravel().tolist()))
        name = self._table_names.get(key)
        if name is None:
            name = self._table_names[key] = f"TABLE_{len(self._table_names)}"
            self.tables[name] = key
        view = ", ".join(["1", *map(str, grid.shape)])
        return self.leaf_symbol(f"like.new_tensor({name}).view({view})",
                                View(None, frozenset(a for a, n in enumerate(grid.shape) if n > 1)))

    def leaf(self, column, points, axes) -> sp.Expr:
        try:
            places = [self.places[s] for s in column]
        except KeyError as missing:
            raise NoMatch(f"unknown symbol {missing}") from None
        family = places[0][0]
        if any(p[0] != family for p in places):
            raise NoMatch("different families")
        mapping: list[tuple[str, int]] = []
        for k in range(len(family.shape)):
            values = [p[1][k] for p in places]
            axis = next((a for a in range(len(axes)) if all(pt[a] == v for pt, v in zip(points, values))), None)
            if axis is not None and ("axis", axis) not in mapping:
                mapping.append(("axis", axis))
            elif all(v == values[0] for v in values):
                mapping.append(("const", values[0]))
            else:
                raise NoMatch("an index that is neither an entity axis nor a constant")
        return self.view(family, mapping, len(axes))

    def view(self, family: Family, mapping: list[tuple[str, int]], rank: int) -> sp.Expr:
        """The code of `family` indexed by `mapping` (per index: an axis of the context or a
        constant) as a tensor of rank 1 + rank, broadcast along the axes it lacks."""
        code = family.local
        if any(kind == "const" for kind, _ in mapping):
            index = [":"] + [str(v) if kind == "const" else ":" for kind, v in mapping]
            while index[-1] == ":":
                index.pop()
            code += f"[{', '.join(index)}]"
        order = [v for kind, v in mapping if kind == "axis"]
        if order != sorted(order):
            code += f".permute(0, {', '.join(str(1 + order.index(a)) for a in sorted(order))})"
        present = set(order)
        if present != set(range(rank)):
            index = [":"] + [":" if a in present else "None" for a in range(rank)]
            while index[-1] == ":":
                index.pop()
            code += f"[{', '.join(index)}]"
        return self.leaf_symbol(code, View(family, frozenset(present)))

    def leaf_symbol(self, code: str, view: View) -> sp.Symbol:
        symbol = self._by_code.get(code)
        if symbol is None:
            symbol = self._by_code[code] = sp.Dummy(f"v{next(self._counter)}", real=True)
            self.codes[symbol] = code
            self.meta[symbol] = view
        return symbol

    def associative(self, column, points, axes, op) -> sp.Expr:
        identity = sp.S.Zero if op is sp.Add else sp.S.One
        numeric, groups = [], []
        for e in column:
            args = e.args if isinstance(e, op) else (e,)
            numeric.append(op(*[a for a in args if _is_number(a)]) if any(_is_number(a) for a in args) else identity)
            by_key = defaultdict(list)
            for a in args:
                if not _is_number(a):
                    by_key[self.skeleton(a)].append(a)
            groups.append(by_key)
        keys = sorted(groups[0])
        if any(sorted(g) != keys for g in groups):
            raise NoMatch("different terms")
        parts = []
        if any(n != identity for n in numeric):
            parts.append(self.number(numeric, points, axes))
        for key in keys:
            members = [sorted(g[key], key=sp.default_sort_key) for g in groups]
            if all(len(m) == 1 for m in members):
                parts.append(self.build([m[0] for m in members], points, axes))
                continue
            try:
                parts.append(self.reduction(members, points, axes, op))
            except NoMatch:
                if len({len(m) for m in members}) != 1:
                    raise
                parts += [self.build([m[k] for m in members], points, axes) for k in range(len(members[0]))]
        return op(*parts)

    def reduction(self, members, points, axes, op) -> sp.Expr:
        """`op` over a new trailing axis of the terms `members[e]` of each point e."""
        body_column, body_points, own_column, size = [], [], [], None
        for terms, point in zip(members, points):
            ks, n, varying = self.bound_values(terms)
            if size not in (None, n):
                raise NoMatch("reductions of different lengths")
            size = n
            missing = sorted(set(range(n)) - set(ks))
            if missing:
                if op is not sp.Add or len(missing) != 1 or len({self.numbers(t) for t in terms}) != 1:
                    raise NoMatch("a reduction with gaps")
                own = self.moved(terms[0], varying, missing[0])
                own_column.append(own)
                terms, ks = [*terms, own], [*ks, missing[0]]
            for term, k in zip(terms, ks):
                body_column.append(term)
                body_points.append(point + (k,))
        if own_column and len(own_column) != len(members):
            raise NoMatch("gaps at some points only")
        body = self.build(body_column, body_points, axes + (size,))
        reduced = (AxisSum if op is sp.Add else AxisProd)(body, sp.Integer(len(axes) + 1))
        if own_column:
            return reduced - self.build(own_column, points, axes)
        return reduced

    def bound_values(self, terms) -> tuple[list[int], int, list[int]]:
        """Per term the value k of the summation index, its range n and the positions (in the
        leaf signature) it occupies; raises NoMatch unless the terms vary together."""
        signatures = [self.signature(t) for t in terms]
        first = signatures[0]
        if any(len(s) != len(first) or any(a[:2] != b[:2] for a, b in zip(first, s)) for s in signatures):
            raise NoMatch("terms with different leaves")
        varying = [p for p in range(len(first)) if len({s[p][2] for s in signatures}) > 1]
        if not varying or len({first[p][3] for p in varying}) != 1:
            raise NoMatch("no common summation index")
        ks = []
        for s in signatures:
            values = {s[p][2] for p in varying}
            if len(values) != 1:
                raise NoMatch("two summation indices")
            ks.append(values.pop())
        if len(set(ks)) != len(ks):
            raise NoMatch("a repeated term")
        return ks, first[varying[0]][3], varying

    def signature(self, expr) -> list[tuple[str, int, int, int]]:
        """(family, index position, value, axis length) of every leaf index, in a fixed order."""
        if expr.is_Symbol:
            if expr not in self.places:
                raise NoMatch(f"unknown symbol {expr}")
            family, index = self.places[expr]
            return [(family.local, k, v, family.shape[k]) for k, v in enumerate(index)]
        if _is_number(expr) or expr.is_Atom:
            return []
        return [leaf for a in self.ordered(expr) for leaf in self.signature(a)]

    def numbers(self, expr) -> tuple:
        if _is_number(expr):
            return (float(sp.N(expr, 17)),)
        if expr.is_Atom:
            return ()
        return tuple(x for a in self.ordered(expr) for x in self.numbers(a))

    def ordered(self, expr) -> list:
        args = list(expr.args)
        if expr.is_Add or expr.is_Mul:
            args.sort(key=lambda a: (self.skeleton(a), sp.default_sort_key(a)))
        return args

    def moved(self, term, varying: list[int], value: int) -> sp.Expr:
        """`term` with the summation index set to `value` at the `varying` signature positions."""
        replacement, position = {}, 0
        for leaf in self.leaves(term):
            family, index = self.places[leaf]
            new = list(index)
            for k in range(len(index)):
                if position + k in varying:
                    new[k] = value
            position += len(index)
            target = self.symbol_at.get((family.local, tuple(new)))
            if target is None or replacement.get(leaf, target) != target:
                raise NoMatch("no entry to complete a reduction with")
            replacement[leaf] = target
        return term.xreplace(replacement)

    def leaves(self, expr) -> list[sp.Symbol]:
        if expr.is_Symbol:
            return [expr]
        if _is_number(expr) or expr.is_Atom:
            return []
        return [leaf for a in self.ordered(expr) for leaf in self.leaves(a)]

    def skeleton(self, expr) -> str:
        key = self._skeletons.get(expr)
        if key is None:
            if expr.is_Symbol:
                key = self.places[expr][0].local if expr in self.places else f"?{expr.name}"
            elif _is_number(expr):
                key = "#"
            elif expr.is_Add or expr.is_Mul:
                parts = sorted(self.skeleton(a) for a in expr.args if not _is_number(a))
                key = parts[0] if len(parts) == 1 else f"{expr.func.__name__}({','.join(parts)})"
            else:
                key = f"{expr.func.__name__}({','.join(self.skeleton(a) for a in expr.args)})"
            self._skeletons[expr] = key
        return key

    # ------------------------------------------------------------- analysis
    def families_of(self, template: sp.Expr) -> set[str]:
        """The families (locals) a template reads."""
        return {self.meta[s].family.local for s in template.free_symbols
                if s in self.meta and self.meta[s].family is not None}

    def covered(self, template: sp.Expr) -> tuple[bool, frozenset[int]]:
        """(has the batch dimension, entity axes not broadcast) of the printed template."""
        if template in self.meta:
            view = self.meta[template]
            return view.family is not None, view.axes
        if isinstance(template, AxisSum):
            batch, axes = self.covered(template.args[0])
            reduced = int(template.args[1]) - 1
            return batch, frozenset(a for a in axes if a != reduced)
        batch, axes = False, frozenset()
        for a in template.args:
            if isinstance(a, sp.Basic) and not a.is_Atom or a in self.meta:
                b, x = self.covered(a)
                batch, axes = batch or b, axes | x
        return batch, axes

    # ------------------------------------------------------------- printing
    def statements(self, local: str, template: sp.Expr, shape: tuple[int, ...], comment: str = "",
                   prefix: str = "t") -> list[str]:
        """Lines assigning `local` = the template as a full (B, *shape) tensor (shared
        subexpressions first, each once)."""
        shared, (reduced,) = sp.cse([template], symbols=sp.numbered_symbols(f"{prefix}_", real=True),
                                    order="canonical")
        names = {symbol: check_identifier(symbol.name) for symbol, _ in shared}
        printer = ScenarioPrinter(names, self.codes)
        lines = [f"{symbol.name} = {printer.doprint(value)}" for symbol, value in shared]
        code = printer.doprint(reduced)
        batch, axes = self.covered(template)
        if not batch or axes != set(range(len(shape))):
            code = f"_entity({code}, like{''.join(f', {n}' for n in shape)})"
        lines.append(f"{check_identifier(local)} = {code}" + (f"  # {comment}" if comment else ""))
        return lines

    def print_expr(self, template: sp.Expr) -> str:
        return ScenarioPrinter({}, self.codes).doprint(template)

    def table_lines(self) -> list[str]:
        return [f"{name} = {_tuple(values)}  # shape {shape[0] if len(shape) == 1 else shape}"
                for name, (shape, values) in self.tables.items()]


def _tuple(values: tuple[float, ...]) -> str:
    return "(" + ", ".join(float_literal(v) for v in values) + ("," if len(values) == 1 else "") + ")"


__all__ = ["AxisSum", "AxisProd", "Family", "NoMatch", "ScenarioPrinter", "Tensorizer"]
