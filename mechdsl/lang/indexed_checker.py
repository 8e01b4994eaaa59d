"""What the game and scenario checkers share on top of `SpecChecker`: entities indexed by
named sizes (`o[N, I]`, `host[V, S]`), whose indices are checked against the size each
position is declared with, and `let` functions that are mostly functions of indices."""

from __future__ import annotations

import sympy as sp

from mechdsl.lang import ast
from mechdsl.lang.lowering import Context, LoweringError, fail, lower


class IndexedChecker:
    """Mixin before `SpecChecker` in a kind's bases. `index_sizes[name]` is the size name of
    each index of an indexed entity, filled as the kind declares them."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.index_sizes: dict[str, tuple[str, ...]] = {}

    def _check_indices(self, node: ast.Expr, bound: dict[str, str]) -> None:
        """`o[i, n]` where `o` is declared `[N, I]`: an index bound over one size used in a
        position of another. Only plain bound index names are checked (arithmetic on
        indices, like `k + 1`, is left to the range check)."""
        if isinstance(node, ast.Subscript):
            sizes = self.index_sizes.get(node.name)
            if sizes is not None and len(sizes) == len(node.indices):
                for position, (index, size) in enumerate(zip(node.indices, sizes)):
                    if isinstance(index, ast.Name) and index.name in bound and bound[index.name] != size:
                        raise fail(f"index '{index.name}' ranges over {bound[index.name]}, but position "
                                   f"{position + 1} of '{node.name}' is indexed by {size}", index.span,
                                   hint=f"'{node.name}' is declared [{', '.join(sizes)}]")
            for index in node.indices:
                self._check_indices(index, bound)
        elif isinstance(node, ast.IndexedSum):
            self._check_indices(node.body, {**bound, node.binding.index: node.binding.size})
        elif isinstance(node, ast.OperatorChain):
            self._check_indices(node.first, bound)
            for _, operand in node.rest:
                self._check_indices(operand, bound)
        elif isinstance(node, ast.BinaryOp):
            self._check_indices(node.left, bound)
            self._check_indices(node.right, bound)
        elif isinstance(node, ast.Negate):
            self._check_indices(node.operand, bound)
        elif isinstance(node, ast.Call):
            for arg in node.args:
                self._check_indices(arg, bound)

    def _let_check(self, node: ast.LetValue) -> None:
        self._check_indices(node.value, {})
        super()._let_check(node)

    def _function_body_check(self, node: ast.LetFunction) -> None:
        """A body that subscripts its arguments (`r(n, i)` reads `g[n, i]`) is checked with
        index 0 when the symbolic check finds a non-integer index."""
        try:
            super()._function_body_check(node)
        except LoweringError as error:
            if error.diagnostic is None or "index must be a whole number" not in error.diagnostic.message:
                raise
            self._resolving.append(node.name)
            try:
                lower(node.body, self, Context({p: sp.Integer(0) for p in node.params}))
            finally:
                self._resolving.pop()
