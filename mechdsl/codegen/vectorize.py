"""Vectorised printing of long sums: isomorphic terms become one stacked tensor expression.

A spec's objective is a sum over types and histories of the same per-item formula,
expanded by the model into K^t copies: `p1[0]*(200 - 200*2**(-k*T1[0]) - R1[0]) +
p1[1]*(...) + ...`. Printed term by term that is one torch call per operation per copy.
Here the arguments of every Add and Mul are grouped by *shape* (the expression tree with
every symbol replaced by a hole; numbers and functions kept), and a group of c >= 2 copies
is printed once, on (c, ..., B) tensors, then summed (Add) or multiplied (Mul) over its
first dimension:

    p1[0]*f(T1[0]) + p1[1]*f(T1[1])  ->  (rows[8:10] * f(decisions[0:2])).sum(0)

The holes of a group are filled position by position (leaves in a canonical order:
arguments of Add/Mul sorted by shape, so copies line up; ties are interchangeable
arguments of a commutative operation, so any pairing gives the same sum or product). A
tuple of leaves stored as equally spaced rows of a batch-last tensor (`rows` (S, B),
`decisions` (n, B)) is a slice view; any other tuple is `torch.stack`ed once; a tuple of
one repeated leaf is that leaf, broadcast. Groups are nested: the copies' own sums (over
the next index) are grouped again, on (c', c, B). Every tensor's leading dimensions are
tracked, so that a leaf constant along an outer group (dims (B,) or (c, B) inside
(c', c, B)) is expanded before it is stacked with the others.
A group is vectorised only when that saves torch calls by the count below.
"""

from __future__ import annotations

from itertools import count

import sympy as sp

from mechdsl.codegen.printer import FunctionBody, TensorPrinter, check_identifier


def _shape(expr: sp.Basic, cache: dict) -> str:
    """The tree of `expr` with every symbol a hole `s`; commutative arguments sorted."""
    key = cache.get(expr)
    if key is None:
        if expr.is_Symbol:
            key = "s"
        elif expr.is_Number:
            key = f"n{expr}"
        else:
            args = [_shape(a, cache) for a in expr.args]
            if expr.is_Add or expr.is_Mul:
                args.sort()
            key = f"{expr.func.__name__}({','.join(args)})"
        cache[expr] = key
    return key


def _operations(expr: sp.Basic) -> int:
    """Torch calls of `expr` printed plainly (one per operation; a good enough estimate)."""
    if expr.is_Atom:
        return 0
    inner = sum(_operations(a) for a in expr.args)
    if expr.is_Add or expr.is_Mul:
        return inner + len(expr.args) - 1
    return inner + 1


class _Vectorizer:
    def __init__(self, names: dict[sp.Symbol, str], views: dict[sp.Symbol, tuple[str, int]], prefix: str):
        self.names = dict(names)
        self.dims: dict[str, tuple[int, ...]] = {}  # leading dimensions of a local (before B); () if absent
        self.views = views
        self.prefix = check_identifier(prefix)
        self.assignments: list[tuple[str, str]] = []
        self.stacks: dict[tuple[str, ...], str] = {}
        self.shapes: dict = {}
        self.counter = count()

    # ------------------------------------------------------------- helpers
    def shape(self, expr) -> str:
        return _shape(expr, self.shapes)

    def ordered(self, expr) -> list:
        args = list(expr.args)
        return sorted(args, key=self.shape) if expr.is_Add or expr.is_Mul else args

    def leaves(self, expr) -> list[sp.Symbol]:
        if expr.is_Symbol:
            return [expr]
        if expr.is_Atom:
            return []
        return [leaf for a in self.ordered(expr) for leaf in self.leaves(a)]

    def template(self, expr, holes) -> sp.Basic:
        if expr.is_Symbol:
            return next(holes)
        if expr.is_Atom:
            return expr
        return expr.func(*[self.template(a, holes) for a in self.ordered(expr)])

    def local(self, code: str) -> str:
        name = f"{self.prefix}_{next(self.counter)}"
        self.assignments.append((name, code))
        return name

    def plain(self, expr) -> str:
        return TensorPrinter(self.names).doprint(expr)

    def stacked(self, symbols: tuple[sp.Symbol, ...], outer: tuple[int, ...]) -> tuple[str, tuple[int, ...], bool]:
        """Code and leading dims of the copies' leaves at one position inside groups of
        dims `outer`, and whether it costs a torch call (a stack)."""
        if len(set(symbols)) == 1:
            name = self.names[symbols[0]]
            return name, self.dims.get(name, ()), False
        dims = (len(symbols),) + outer
        places = [self.views.get(s) for s in symbols]
        if all(p is not None and p[0] == places[0][0] for p in places):
            rows = [p[1] for p in places]
            step = rows[1] - rows[0]
            if step > 0 and all(b - a == step for a, b in zip(rows, rows[1:])):
                stride = "" if step == 1 else f":{step}"
                code = f"{places[0][0]}[{rows[0]}:{rows[-1] + 1}{stride}]"
                if outer:
                    code += f".view({len(symbols)}, {'1, ' * len(outer)}-1)"
                    dims = (len(symbols),) + (1,) * len(outer)
                return code, dims, False
        key = (symbols, outer)
        if key not in self.stacks:
            entries = [self.names[s] for s in symbols]
            entries = [e if self.dims.get(e, ()) == outer else f"{e}.expand({', '.join(map(str, outer + (-1,)))})"
                       for e in entries]
            self.stacks[key] = self.local(f"torch.stack([{', '.join(entries)}])")
            return self.stacks[key], dims, True
        return self.stacks[key], dims, False

    # ------------------------------------------------------------- printing
    def code(self, expr, outer: tuple[int, ...] = ()) -> str:
        """Code of `expr` inside groups of leading dims `outer` (empty at the top)."""
        if expr.is_Atom or not self.has_group(expr, outer):
            return self.plain(expr)
        if expr.is_Add or expr.is_Mul:
            groups: dict[str, list] = {}
            for a in self.ordered(expr):
                groups.setdefault(self.shape(a), []).append(a)
            parts = []
            for members in groups.values():
                if self.worth_vectorising(members, outer):
                    parts.append(self.group(members, "sum" if expr.is_Add else "prod", outer))
                else:
                    parts += [self.code(m, outer) for m in members]
            return (" + " if expr.is_Add else " * ").join(f"({p})" for p in parts)
        holes = {}
        for a in expr.args:  # a function of sums: print each vectorised argument into a local
            if not a.is_Atom:
                hole = sp.Dummy(real=True)
                self.names[hole] = self.local(self.code(a, outer))
                holes[a] = hole
        return self.plain(expr.xreplace(holes))

    def has_group(self, expr, outer: tuple[int, ...]) -> bool:
        if expr.is_Atom:
            return False
        if expr.is_Add or expr.is_Mul:
            shapes = [self.shape(a) for a in expr.args]
            if any(shapes.count(s) > 1
                   and self.worth_vectorising([a for a in expr.args if self.shape(a) == s], outer)
                   for s in set(shapes)):
                return True
        return any(self.has_group(a, outer) for a in expr.args)

    def worth_vectorising(self, members: list, outer: tuple[int, ...]) -> bool:
        """Stacks + one copy + the reduction must beat c copies and their c - 1 joins."""
        if len(members) < 2 or members[0].is_Atom:
            return False
        columns = list(zip(*(self.leaves(m) for m in members)))
        stacks = sum(len(set(c)) > 1 and (c, outer) not in self.stacks and not self.is_view(c) for c in columns)
        once = _operations(members[0])
        return stacks + once + 1 < len(members) * (once + 1) - 1

    def is_view(self, symbols) -> bool:
        places = [self.views.get(s) for s in symbols]
        if not all(p is not None and p[0] == places[0][0] for p in places):
            return False
        rows = [p[1] for p in places]
        return rows[1] > rows[0] and all(b - a == rows[1] - rows[0] for a, b in zip(rows, rows[1:]))

    def group(self, members: list, reduction: str, outer: tuple[int, ...]) -> str:
        columns = list(zip(*(self.leaves(m) for m in members)))
        holes = [sp.Dummy(real=True) for _ in columns]
        for hole, column in zip(holes, columns):
            code, dims, _ = self.stacked(column, outer)
            if not code.isidentifier():
                code = self.local(code)
            self.names[hole] = code
            self.dims[code] = dims
        body = self.code(self.template(members[0], iter(holes)), (len(members),) + outer)
        return f"({body}).{reduction}(0)"


def vectorized_body(expr: sp.Expr, names: dict[sp.Symbol, str], views: dict[sp.Symbol, tuple[str, int]],
                    prefix: str = "v") -> FunctionBody:
    """Straight-line code computing `expr` (B,) with isomorphic terms stacked (module
    docstring). `views` maps a symbol to (tensor name, row) when it is a row of a
    batch-last tensor in scope, so that equally spaced rows are sliced, not stacked."""
    vectorizer = _Vectorizer(names, views, prefix)
    result = vectorizer.code(expr)
    return FunctionBody(tuple(vectorizer.assignments), (result,))


__all__ = ["vectorized_body"]
