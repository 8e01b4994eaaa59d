"""Hard scenario constraints: which part of the action map keeps each one, with the proof.

`constraint LABEL: lhs <= rhs for ... hard` declares that no decision of the map may violate
it, so the compiler must show, symbolically and per instance, that the map keeps it. Two
forms are built in, both for a softmax choice `a[r, s]` (one-hot over its entries s per row
r, mechdsl/scenario/choice.py); with g = the instance's excess (violated when g > 0):

* **capacity**: g reads one entry s of the choice across rows, linearly with numeric
  coefficients c_r: g = sum_r c_r a[r, s] - k. At most `capacity` rows take s, so the
  largest g any decision of the map reaches is the sum of the `capacity` largest positive
  c_r minus k; the instance is kept iff that is <= 0.
* **mask**: g reads one row r. A one-hot row turns g into g_s (a[r, s] = 1, its other
  entries 0) when the row takes entry s, and the map takes s only if the mask's quantity
  q_s >= 0 (`where left >= right` gives q = left - right). The instance is kept iff for
  every entry g_s <= 0 follows from q_s >= 0: g_s is a number <= 0, or g_s + q_s is a number
  <= 0, or g_s / q_s is a negative number. (A row with no qualifying entry, or whose
  qualifying entries the capacity fills, takes its fallback; that is the only way such an
  instance can be violated, and no capacity-respecting decision avoids it, see choice.py.)

Anything else (a simplex, an interval, several rows and entries at once, a bound above the
capacity) cannot be built in: `NotBuiltIn` says why and what to write instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp

from mechdsl.model import all_indices
from mechdsl.scenario.model import Action

HINT = ("the map builds in a choice's capacity (`softmax over s ... capacity k` keeps `sum(v in V, a[v, s]) <= k`) "
        "and its mask (`softmax over s where COND fallback ...` keeps COND for the chosen entry); "
        "write `penalty w` instead of `hard` to penalise it")


class NotBuiltIn(Exception):
    def __init__(self, reason: str, hint: str = HINT) -> None:
        super().__init__(reason)
        self.reason, self.hint = reason, hint


@dataclass(frozen=True)
class KeptBy:
    """How the map keeps a hard constraint: `action`'s `form` ("capacity" or "mask") and,
    per instance, the entry (capacity) or the row (mask) it is about."""

    action: str
    form: str
    positions: tuple[int, ...]


def row_and_entry(action: Action, index: tuple[int, ...]) -> tuple[int, int]:
    """Flat row (the other indices, row-major) and entry of a choice's decision `index`."""
    others = tuple(k for i, k in enumerate(index) if i != action.axis)
    shape = tuple(n for i, n in enumerate(action.shape) if i != action.axis)
    row = 0
    for k, n in zip(others, shape):
        row = row * n + k
    return row, index[action.axis]


def kept_by(excesses: list[sp.Expr], actions: dict[str, Action], expand: Callable[[sp.Expr], sp.Expr]) -> KeptBy:
    """The form keeping every instance (excess) of one hard constraint, or `NotBuiltIn`.
    `expand` substitutes intermediates and folds constants (exact rationals)."""
    owner = {s: (a, idx) for a in actions.values() for idx, s in zip(all_indices(a.shape), a.symbols())}
    found: list[tuple[str, str, int]] = []
    for excess in excesses:
        g = sp.expand(expand(excess))
        used = [owner[s] for s in g.free_symbols if s in owner]
        names = sorted({a.name for a, _ in used})
        if len(names) > 1:
            raise NotBuiltIn(f"it reads the decisions of {' and '.join(repr(n) for n in names)}; "
                             "a map keeps constraints of one choice")
        action = used[0][0]
        if action.kind != "softmax":
            raise NotBuiltIn(f"'{action.name}' is {'an' if action.kind == 'interval' else 'a'} {action.kind} action; "
                             "only the masks and capacities of softmax choices are built in")
        places = {row_and_entry(action, idx) for _, idx in used}
        rows, entries = {r for r, _ in places}, {s for _, s in places}
        if len(rows) == 1 and (len(entries) > 1 or action.qualify is not None):
            found.append((action.name, "mask", _mask_row(g, action, rows.pop(), owner, expand)))
        elif len(entries) == 1:
            found.append((action.name, "capacity", _capacity_entry(g, action, entries.pop(), owner)))
        else:
            raise NotBuiltIn(f"it reads several rows and several entries of '{action.name}'")
    forms = {(a, f) for a, f, _ in found}
    if len(forms) > 1:
        raise NotBuiltIn("its instances need different forms (" + ", ".join(f"{f} of '{a}'" for a, f in sorted(forms))
                         + "); split it into one constraint per form")
    (action_name, form), = forms
    return KeptBy(action_name, form, tuple(p for _, _, p in found))


def _row_symbols(action: Action, row: int, owner: dict) -> dict[int, sp.Symbol]:
    return {s: symbol for symbol, (a, idx) in owner.items() if a is action
            for r, s in [row_and_entry(action, idx)] if r == row}


def _mask_row(g: sp.Expr, action: Action, row: int, owner: dict, expand: Callable[[sp.Expr], sp.Expr]) -> int:
    if action.qualify is None:
        raise NotBuiltIn(f"it restricts one row of '{action.name}', which has no mask",
                         hint=f"add `where COND fallback PREF` to action '{action.name}' with COND the constraint "
                              "for the chosen entry, or write `penalty w`")
    symbols = _row_symbols(action, row, owner)
    flat = {row_and_entry(action, idx): k for k, idx in enumerate(all_indices(action.shape))}
    for entry, symbol in sorted(symbols.items()):
        taken = g.xreplace({other: sp.Integer(int(other == symbol)) for other in symbols.values()})
        q = expand(action.qualify[flat[(row, entry)]])
        if not _implied(sp.expand(taken), sp.expand(q)):
            raise NotBuiltIn(f"when row {row} of '{action.name}' takes entry {entry} the constraint needs "
                             f"{sp.simplify(taken)} <= 0, which its mask ({sp.simplify(q)} >= 0) does not imply",
                             hint="write the constraint as the mask's condition for the chosen entry, e.g. "
                                  "`sum(s in S, a[v, s] * rep[v, s]) >= B_thre` for `where rep[v, s] >= B_thre`, "
                                  "or write `penalty w`")
    return row


def _implied(g: sp.Expr, q: sp.Expr) -> bool:
    """q >= 0 implies g <= 0 (one of the three sufficient forms of the module docstring)."""
    if g.is_number:
        return bool(g <= 0)
    total = sp.expand(g + q)
    if total.is_number and bool(total <= 0):
        return True
    ratio = sp.cancel(g / q) if q != 0 else None
    return ratio is not None and ratio.is_number and bool(ratio < 0)


def _capacity_entry(g: sp.Expr, action: Action, entry: int, owner: dict) -> int:
    if action.capacity is None:
        raise NotBuiltIn(f"it bounds how many rows take entry {entry} of '{action.name}', which has no capacity",
                         hint=f"add `capacity k` to action '{action.name}', or write `penalty w`")
    column = [s for s, (a, idx) in owner.items() if a is action and idx[action.axis] == entry and s in g.free_symbols]
    coefficients = [g.coeff(s) for s in column]
    rest = sp.expand(g - sum(c * s for c, s in zip(coefficients, column)))
    if not all(c.is_number for c in coefficients) or not rest.is_number:
        raise NotBuiltIn(f"it is not `sum of numbers times {action.name}[..., {entry}, ...] <= constant`")
    largest = sorted((c for c in coefficients if c > 0), reverse=True)[:action.capacity]
    worst = sum(largest, sp.Integer(0)) + rest
    if worst > 0:
        raise NotBuiltIn(f"with capacity {action.capacity} the map can reach an excess of {float(worst):g} on "
                         f"entry {entry}", hint=f"lower the capacity of '{action.name}' to the constraint's bound, "
                                                "or write `penalty w`")
    return entry
