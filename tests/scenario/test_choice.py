"""The choice map (mechdsl/scenario/choice.py) against independent plain-Python computations:
masked softmax, capacity-respecting greedy, both together (with brute-force matchings), and
the straight-through gradient."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from mechdsl.scenario.choice import choose, max_qualifying


def random_instances(batch: int, rows: int, entries: int, seed: int, p_allowed: float | None = None):
    generator = torch.Generator().manual_seed(seed)
    scores = torch.rand(batch, rows, entries, generator=generator, dtype=torch.float64) * 2 - 1
    # a few exact ties, so the tie-break (lower row, then lower entry) is exercised
    scores = torch.where(torch.rand(scores.shape, generator=generator) < 0.1, torch.zeros_like(scores), scores)
    allowed = None if p_allowed is None else torch.rand(scores.shape, generator=generator) < p_allowed
    preference = torch.rand(scores.shape, generator=generator, dtype=torch.float64).round()
    return scores, allowed, preference


def greedy_by_score(z: np.ndarray, capacity: int) -> np.ndarray:
    """Pairs by descending score (ties: lower row, then lower entry); a row takes the first
    pair whose entry still has room."""
    rows, entries = z.shape
    pairs = sorted(((-z[r, s], r, s) for r in range(rows) for s in range(entries)))
    room, out = [capacity] * entries, [-1] * rows
    for _, r, s in pairs:
        if out[r] < 0 and room[s] > 0:
            out[r], room[s] = s, room[s] - 1
    return np.array(out)


def test_masked_softmax_never_picks_a_masked_entry_and_falls_back_exactly_when_all_are_masked():
    scores, allowed, preference = random_instances(10_000, 8, 4, seed=1, p_allowed=0.3)
    chosen = choose(scores, allowed, preference, None)
    one_hot = chosen.one_hot.numpy()
    z, q, pref = scores.numpy(), allowed.numpy(), preference.numpy()
    assert (one_hot.sum(2) == 1).all()
    some = q.any(2)
    assert 0.05 < (~some).mean() < 0.5                                  # both kinds of rows occur
    picked = one_hot.argmax(2)
    assert q[np.arange(10_000)[:, None], np.arange(8)[None, :], picked][some].all()
    np.testing.assert_array_equal(chosen.fallback.numpy(), ~some)
    best_allowed = np.where(q, z, -np.inf).argmax(2)                    # the argmax of the masked softmax
    np.testing.assert_array_equal(picked[some], best_allowed[some])
    # the fallback: largest preference, ties broken by the score
    for b, r in zip(*np.nonzero(~some)):
        assert picked[b, r] == min(range(4), key=lambda s: (-pref[b, r, s], -z[b, r, s], s))


@pytest.mark.parametrize("capacity", [2, 3])
def test_capacity_is_never_exceeded_and_the_assignment_is_the_greedy_by_score(capacity):
    scores, _, _ = random_instances(10_000, 8, 4, seed=capacity)
    chosen = choose(scores, None, None, capacity)
    one_hot = chosen.one_hot.numpy()
    assert (one_hot.sum(2) == 1).all() and (one_hot.sum(1) <= capacity).all()
    assert (one_hot.sum(1) == capacity).any()                            # the capacity binds
    assert not chosen.fallback.any()
    expected = np.stack([greedy_by_score(z, capacity) for z in scores.numpy()])
    np.testing.assert_array_equal(one_hot.argmax(2), expected)


def brute_force_max_matching(q: np.ndarray, capacity: int) -> int:
    """Most rows on qualifying entries with <= capacity rows per entry, by enumeration."""
    rows, entries = q.shape
    best = 0
    for assignment in itertools.product(range(-1, entries), repeat=rows):   # -1: not placed
        counts = np.bincount([s for s in assignment if s >= 0], minlength=entries)
        if (counts <= capacity).all() and all(s < 0 or q[r, s] for r, s in enumerate(assignment)):
            best = max(best, sum(s >= 0 for s in assignment))
    return best


def greedy_keeping_the_maximum(z: np.ndarray, q: np.ndarray, capacity: int) -> list[int]:
    """The rule of choice.py step 2 with the matching sizes found by enumeration."""
    rows, entries = z.shape

    def completes(assigned: list[int], room: list[int]) -> int:
        free = [r for r in range(rows) if assigned[r] < 0]
        best = 0
        for assignment in itertools.product(range(-1, entries), repeat=len(free)):
            counts = np.bincount([s for s in assignment if s >= 0], minlength=entries)
            if (counts <= room).all() and all(s < 0 or q[r, s] for r, s in zip(free, assignment)):
                best = max(best, sum(s >= 0 for s in assignment))
        return best

    target = completes([-1] * rows, [capacity] * entries)
    pairs = sorted((-z[r, s], r, s) for r in range(rows) for s in range(entries) if q[r, s])
    assigned, room = [-1] * rows, [capacity] * entries
    for _, r, s in pairs:
        if assigned[r] >= 0 or room[s] == 0:
            continue
        trial, trial_room = assigned.copy(), room.copy()
        trial[r], trial_room[s] = s, room[s] - 1
        if sum(a >= 0 for a in trial) + completes(trial, trial_room) == target:
            assigned, room = trial, trial_room
    return assigned


def test_masked_capacity_places_the_most_rows_and_is_the_greedy_that_keeps_that_maximum():
    scores, allowed, preference = random_instances(150, 5, 3, seed=7, p_allowed=0.45)
    capacity = 2
    chosen = choose(scores, allowed, preference, capacity)
    one_hot, q = chosen.one_hot.numpy(), allowed.numpy()
    assert (one_hot.sum(2) == 1).all() and (one_hot.sum(1) <= capacity).all()
    best = np.array([brute_force_max_matching(x, capacity) for x in q])
    np.testing.assert_array_equal(max_qualifying(allowed, capacity).numpy(), best)
    on_qualifying = (one_hot.astype(bool) & q).any(2)
    np.testing.assert_array_equal(on_qualifying.sum(1), best)         # the most rows possible
    np.testing.assert_array_equal(chosen.fallback.numpy(), ~on_qualifying)
    assert (best < 5).sum() > 20                                       # instances where rows must fall back
    for b in range(150):
        expected = greedy_keeping_the_maximum(scores[b].numpy(), q[b], capacity)
        placed = [s if on_qualifying[b, r] else -1 for r, s in enumerate(one_hot[b].argmax(1))]
        assert placed == expected, b
    # plain greedy would strand rows here; the map does not
    plain = np.stack([greedy_by_score(np.where(x, z, -10.0), capacity) for x, z in zip(q, scores.numpy())])
    stranded = (~q[np.arange(150)[:, None], np.arange(5)[None, :], plain]).sum(1) > 5 - best
    assert stranded.any()


def test_the_forward_value_is_the_exact_one_hot_and_the_gradient_is_the_masked_softmax():
    scores, allowed, preference = random_instances(64, 8, 4, seed=3, p_allowed=0.6)
    leaf = scores.clone().requires_grad_(True)
    chosen = choose(leaf, allowed, preference, 3)
    np.testing.assert_array_equal(chosen.one_hot.detach().numpy(), choose(scores, allowed, preference, 3).one_hot.numpy())
    weights = torch.rand(scores.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    (chosen.one_hot * weights).sum().backward()
    usable = torch.where(allowed.any(2, keepdim=True), allowed, torch.ones_like(allowed))
    reference = scores.clone().requires_grad_(True)
    (torch.softmax(reference.masked_fill(~usable, -torch.inf), 2) * weights).sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), reference.grad.numpy(), rtol=1e-12, atol=1e-15)
    assert (leaf.grad[~usable] == 0).all()


def test_too_little_capacity_is_refused():
    with pytest.raises(ValueError, match="cannot fit"):
        choose(torch.zeros(1, 9, 4), None, None, 2)
