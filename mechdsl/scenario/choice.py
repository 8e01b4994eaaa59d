"""Choices that keep masks and capacities by construction (the runtime of generated scenario envs).

A choice action `a[r, s] softmax over s where COND fallback PREF capacity k` maps the
policy's scores z[r, s] (rows r: every combination of the other indices; entries s) to a
one-hot decision per row. With Q[r, s] = COND (the entry qualifies) and k places per entry:

1.  M* = the largest number of rows that can sit on qualifying entries with at most k rows
    per entry: a bipartite b-matching, whose size is, by Koenig's theorem for the covers of
    the bipartite graph (every entry of a subset T costs its free places, every row with a
    qualifying entry outside T costs 1),

        M* = min over T subset of entries of [ sum_{s in T} room_s + #{r : Q[r, s] for some s not in T} ].

2.  Greedy in score order: the pairs (r, s) with Q[r, s] are visited by descending z (ties:
    lower row, then lower entry); a pair is taken when row r is free, entry s has room and
    the rows assigned so far plus the largest matching of what is left still reach M*
    (so the greedy never strands a row it could have placed; without a mask or when
    capacities cannot bind this check never refuses, and the map is the plain greedy).

3.  Fallback: the rows still free (no qualifying entry, or every one is full and no
    exchange frees one: R - M* rows, the fewest possible) take the entry of largest PREF
    with room, ties broken by the score, then the lower entry; they are reported.

Capacities therefore hold always (the compiler checks k * entries >= rows), and a row takes
an entry that does not qualify only when no capacity-respecting assignment could give it one.
Without a capacity, k = rows (never binding): each row takes its best qualifying entry.

Gradient: the decision is a one-hot (piecewise constant in z); when z requires a gradient
the output is the straight-through estimator one_hot + p - stop_gradient(p) (Bengio,
Leonard and Courville 2013) with p the softmax of z over the row's qualifying entries (all
entries for a row without one), so the forward value is the exact one-hot and the backward
pass is that of the masked softmax.
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class Chosen(NamedTuple):
    one_hot: torch.Tensor     # (B, R, K) decisions, exactly one 1 per row
    fallback: torch.Tensor    # (B, R) bool: the row took its fallback


def subset_members(entries: int, device=None) -> torch.Tensor:
    """(2**K, K) bool: row t is the subset whose bit s is set."""
    codes = torch.arange(2 ** entries, device=device)
    return (codes[:, None] >> torch.arange(entries, device=device)[None, :]) & 1 == 1


def _needs_cover(allowed: torch.Tensor, members: torch.Tensor) -> torch.Tensor:
    """(B, R, 2**K): row r has a qualifying entry outside subset T (so a cover through T must pay r)."""
    return (allowed[:, :, None, :] & ~members[None, None, :, :]).any(3)


def _cover_sizes(room: torch.Tensor, free_rows: torch.Tensor, needs: torch.Tensor, members: torch.Tensor) -> torch.Tensor:
    """(B, 2**K) sizes of the covers of step 1; their minimum is the largest b-matching."""
    return room.to(needs.dtype) @ members.T.to(needs.dtype) + (free_rows.to(needs.dtype)[:, :, None] * needs).sum(1)


def max_qualifying(allowed: torch.Tensor, capacity: int | None) -> torch.Tensor:
    """(B,) M*: the most rows that can take qualifying entries with at most `capacity` rows per entry."""
    batch, rows, entries = allowed.shape
    if capacity is None or capacity >= rows:
        return allowed.any(2).sum(1)
    members = subset_members(entries, allowed.device)
    needs = _needs_cover(allowed, members).to(torch.float64)
    room = torch.full((batch, entries), capacity, device=allowed.device)
    free = torch.ones(batch, rows, dtype=torch.bool, device=allowed.device)
    return _cover_sizes(room, free, needs, members).amin(1).round().long()


def _descending(keys: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """(B, R*K) pair indices sorted by keys[0] descending, ties by keys[1], ... then pair index."""
    order = torch.arange(keys[0][0].numel(), device=keys[0].device).expand(keys[0].shape[0], -1).contiguous()
    for key in reversed(keys):
        flat = key.flatten(1).gather(1, order)
        order = order.gather(1, torch.sort(flat, stable=True, dim=1, descending=True).indices)
    return order


def choose(scores: torch.Tensor, allowed: torch.Tensor | None = None, preference: torch.Tensor | None = None,
           capacity: int | None = None) -> Chosen:
    """The map of the module docstring. scores, preference: (B, R, K); allowed: (B, R, K) bool
    (None: every entry qualifies); capacity: places per entry (None: unlimited)."""
    batch, rows, entries = scores.shape
    if capacity is not None and capacity * entries < rows:
        raise ValueError(f"{rows} rows cannot fit {entries} entries x capacity {capacity}")
    device = scores.device
    z = scores.detach()
    if allowed is None:
        allowed = torch.ones(batch, rows, entries, dtype=torch.bool, device=device)
    places = rows if capacity is None else capacity
    room = torch.full((batch, entries), places, device=device)
    assigned = torch.full((batch, rows), -1, device=device)
    arange = torch.arange(batch, device=device)
    binding = capacity is not None and capacity < rows and not bool(allowed.all())
    if binding:
        members = subset_members(entries, device)
        needs = _needs_cover(allowed, members).to(torch.float64)
        target = _cover_sizes(room, assigned < 0, needs, members).amin(1)
    order = _descending((torch.where(allowed, z, torch.full_like(z, -torch.inf)),))
    for j in range(rows * entries):
        pair = order[:, j]
        r, s = pair // entries, pair % entries
        take = allowed.flatten(1)[arange, pair] & (assigned[arange, r] < 0) & (room[arange, s] > 0)
        if binding and bool(take.any()):
            cover = _cover_sizes(room, assigned < 0, needs, members)
            after = cover - members.T[s].to(cover.dtype) - needs[arange, r]
            placed = (assigned >= 0).sum(1)
            take &= placed + 1 + after.amin(1) >= target - 0.5
        assigned[arange[take], r[take]] = s[take]
        room[arange[take], s[take]] -= 1
    fallback = assigned < 0
    if bool(fallback.any()):
        pref = torch.zeros_like(z) if preference is None else preference.detach().to(z.dtype)
        order = _descending((pref, z))
        for j in range(rows * entries):
            pair = order[:, j]
            r, s = pair // entries, pair % entries
            take = (assigned[arange, r] < 0) & (room[arange, s] > 0)
            assigned[arange[take], r[take]] = s[take]
            room[arange[take], s[take]] -= 1
    one_hot = torch.nn.functional.one_hot(assigned, entries).to(scores.dtype)
    if scores.requires_grad:
        usable = torch.where(allowed.any(2, keepdim=True), allowed, torch.ones_like(allowed))
        soft = torch.softmax(scores.masked_fill(~usable, -torch.inf), 2)
        one_hot = one_hot + (soft - soft.detach())
    return Chosen(one_hot, fallback)
