"""Templates of indexed families (mechdsl/scenario/tensorize.py): each printed tensor equals
every scalar entry it replaces, evaluated independently (SymPy at numbers); and the generated
env of small scenarios equals the scalar model, including families that do not align."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import torch

from mechdsl.lang import load_source
from mechdsl.model import all_indices
from mechdsl.rl.runs import load_package
from mechdsl.scenario.codegen import compile_scenario
from mechdsl.scenario.model import Draw
from mechdsl.scenario.tensorize import AxisSum, Family, NoMatch, Tensorizer

TINY = (Path(__file__).parents[1] / "lang" / "tiny_scenario.mech").read_text(encoding="utf-8")
BATCH = 3


def family(name: str, shape: tuple[int, ...]) -> tuple[Family, dict[tuple[int, ...], sp.Symbol]]:
    return Family(name, shape), {i: sp.Symbol(f"{name}{list(i)}", real=True) for i in all_indices(shape)}


@pytest.fixture
def world():
    """x (4,), h (4, 3), y (3,): symbols, their tensors and a Tensorizer over them."""
    families = dict(x=family("x", (4,)), h=family("h", (4, 3)), y=family("y", (3,)))
    places = {s: (fam, i) for fam, symbols in families.values() for i, s in symbols.items()}
    generator = torch.Generator().manual_seed(0)
    tensors = {n: torch.rand((BATCH, *fam.shape), generator=generator, dtype=torch.float64) + 0.5
               for n, (fam, _) in families.items()}
    return {n: symbols for n, (_, symbols) in families.items()}, tensors, Tensorizer(places)


def run(tz: Tensorizer, tensors: dict, exprs: dict, shape: tuple[int, ...]) -> torch.Tensor:
    """The printed statements of the family, executed."""
    template = tz.template([exprs[i] for i in all_indices(shape)], shape)
    scope = dict(tensors, torch=torch, like=tensors["x"][:, 0], batch=BATCH,
                 _entity=lambda v, like, *s: v.expand(BATCH, *s) if isinstance(v, torch.Tensor)
                 else like.new_full((BATCH, *s), v),
                 _step=lambda x, h0: torch.heaviside(x, x.new_full((), h0)))
    for name, (table_shape, values) in tz.tables.items():
        assert math.prod(table_shape) == len(values)
        scope[name] = values
    exec("\n".join(tz.statements("out", template, shape)), scope)  # generated code, built from our symbols
    return scope["out"]


def scalar_values(symbols: dict, tensors: dict, exprs: dict, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros((BATCH, *shape))
    for b in range(BATCH):
        numbers = {s: sp.Float(float(tensors[n][(b, *i)]), 17)
                   for n, group in symbols.items() for i, s in group.items()}
        for i in all_indices(shape):
            out[(b, *i)] = float(exprs[i].xreplace(numbers).evalf(17))
    return out


def check(world, exprs: dict, shape: tuple[int, ...]) -> Tensorizer:
    symbols, tensors, tz = world
    got = run(tz, tensors, exprs, shape)
    assert got.shape == (BATCH, *shape)
    np.testing.assert_allclose(got.numpy(), scalar_values(symbols, tensors, exprs, shape), rtol=1e-12)
    return tz


def test_numbers_that_vary_with_an_index_become_a_table(world):
    x = world[0]["x"]
    exprs = {(v, s): sp.Abs(x[(v,)] - (s + sp.Rational(1, 2)) * 25) for v in range(4) for s in range(3)}
    tz = check(world, exprs, (4, 3))
    assert list(tz.tables.values()) == [((1, 3), (-12.5, -37.5, -62.5))]


def test_a_sum_over_an_index_is_one_reduction(world):
    (symbols, _, tz) = world
    h, y = symbols["h"], symbols["y"]
    exprs = {(v,): sum(h[(v, s)] * y[(s,)] for s in range(3)) / 2 for v in range(4)}
    check(world, exprs, (4,))
    template = tz.template([exprs[(v,)] for v in range(4)], (4,))
    assert template.atoms(AxisSum)


def test_a_sum_over_all_but_the_own_index_is_the_full_sum_minus_the_own_term(world):
    h = world[0]["h"]
    exprs = {(u, s): sum(h[(j, s)] for j in range(4) if j != u) for u in range(4) for s in range(3)}
    check(world, exprs, (4, 3))


def test_transposed_and_constant_indices_are_views(world):
    h, y = world[0]["h"], world[0]["y"]
    check(world, {(s, v): h[(v, s)] * y[(0,)] + h[(v, 0)] / y[(s,)] for s in range(3) for v in range(4)}, (3, 4))


def test_entries_that_sympy_merged_differently_do_not_align(world):
    """h[v, s] h[v, 0] is h[v, 0]**2 at s = 0: no one template (the generator then prints the
    family entry by entry)."""
    h = world[0]["h"]
    with pytest.raises(NoMatch):
        world[2].template([h[(v, s)] * h[(v, 0)] for v in range(4) for s in range(3)], (4, 3))


def test_a_vanished_number_aligns_with_the_others(world):
    """SymPy writes |floor(x) - 0| as |floor(x)|: the missing term is the identity 0."""
    x = world[0]["x"]
    exprs = {(v, s): sp.Heaviside(sp.Rational(1, 2) - sp.Abs(sp.floor(3 * x[(v,)]) - s), 0)
             for v in range(4) for s in range(3)}
    check(world, exprs, (4, 3))


def test_a_shifted_index_does_not_align(world):
    x = world[0]["x"]
    with pytest.raises(NoMatch):
        world[2].template([x[((v + 1) % 4,)] for v in range(4)], (4,))
    check(world, {(): x[(1,)] + x[(3,)]}, ())  # one entry: constant indices


# ---------------------------------------------------------------- whole envs
VARIANTS = {
    "tiny": TINY,
    "shifted and all-but-own": TINY.replace("size V = 2", "size V = 3").replace("metric cost_of[v in V] = cost(v)\n", (
        "let ahead(v) = pos[mod(v + 1, V)] - pos[v]\n"
        "metric cost_of[v in V] = cost(v)\n"
        "metric ahead_of[v in V] = ahead(v)\n"
        "metric others[u in V, s in S] = sum(j in V, dist(j, s)) - dist(u, s)\n")),
    "scalar state and normal draws": TINY.replace("observe pos, host\n", (
        "state clock in [0, 10] = 1\n"
        "state noise[v in V] in [-5, 5] ~ normal(0, 2)\n"
        "observe pos, host, clock\n")).replace("next pos[v] = mod(pos[v] + 10, L)\n", (
        "next pos[v] = mod(pos[v] + 10 + noise[v], L)\n"
        "next clock = clock * 0.5 + sum(s in S, attack[s])\n"
        "next noise[v] ~ normal(pos[v] / L, 1)\n")),
}


def model_values(model, state: np.ndarray, decided: np.ndarray) -> dict[str, np.ndarray]:
    """Reward, excesses, metrics and deterministic next states of one sample, by SymPy."""
    fold = model.constant_substitution()
    numbers = {s: sp.Float(float(v), 17) for s, v in zip(model.state_symbols(), state)}
    numbers |= {s: sp.Float(float(v), 17) for s, v in zip(model.decision_symbols(), decided)}
    for symbol, expr in model.intermediates.items():
        numbers[symbol] = sp.Float(float(expr.xreplace(fold).xreplace(numbers).evalf(17)), 17)

    def value(expr) -> float:
        return float(sp.sympify(expr).xreplace(fold).xreplace(numbers).evalf(17))
    out = {"reward": np.array(value(model.reward))}
    out |= {f"excess {c.label}": np.array([value(e) for e in c.excesses]) for c in model.constraints}
    out |= {f"metric {m}": np.array([value(e) for e in metric.exprs]) for m, metric in model.metrics.items()}
    layout = [s.name for s in model.state_symbols()]
    for symbol, rule in model.transitions.items():
        if not isinstance(rule, Draw):
            out[f"next {symbol.name}"] = np.array(value(rule))
    out["layout"] = layout
    return out


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_generated_env_equals_the_scalar_model(variant, tmp_path):
    model = load_source(VARIANTS[variant], "variant.mech")
    compile_scenario(model, tmp_path / "variant", source=VARIANTS[variant])
    package = load_package(tmp_path / "variant")
    env = package.Env(dtype=torch.float64)
    state = env.reset(BATCH, torch.Generator().manual_seed(3))
    action = 2 * torch.rand(BATCH, env.action_dim, generator=torch.Generator().manual_seed(4), dtype=torch.float64) - 1
    result, following = env.transition(state, action, torch.Generator().manual_seed(5))
    decided = result.info["decisions"]
    slot = package.score(state, decided)
    for b in range(BATCH):
        expected = model_values(model, state[b].numpy(), decided[b].numpy())
        layout = expected.pop("layout")
        for key, value in expected.items():
            kind, _, name = key.partition(" ")
            got = {"reward": lambda: slot.reward[b], "excess": lambda: slot.excess[name][b],
                   "metric": lambda: slot.metrics[name][b].reshape(-1),
                   "next": lambda: following[b, layout.index(name)]}[kind]()
            np.testing.assert_allclose(np.asarray(got), value, rtol=1e-12, atol=1e-12, err_msg=f"{variant}: {key}")


def test_draws_follow_the_declaration_order_one_entry_at_a_time(tmp_path):
    """initial_states draws B values per entry, entries row-major, states in declaration
    order (what the scalar generator did, so that seeds keep their episodes)."""
    source = VARIANTS["scalar state and normal draws"]
    model = load_source(source, "variant.mech")
    compile_scenario(model, tmp_path / "variant", source=source)
    package = load_package(tmp_path / "variant")
    state = package.initial_states(5, torch.Generator().manual_seed(9), dtype=torch.float64)
    generator = torch.Generator().manual_seed(9)
    pos = [100 * torch.rand(5, generator=generator, dtype=torch.float64) for _ in range(2)]
    attack = [(torch.rand(5, generator=generator, dtype=torch.float64) < 0.2).double() for _ in range(3)]
    noise = [2 * torch.randn(5, generator=generator, dtype=torch.float64) for _ in range(2)]
    layout = package.STATE_LAYOUT
    for name, draws in (("pos", pos), ("attack", attack), ("noise", noise)):
        for k, column in enumerate(draws):
            assert torch.equal(state[:, layout.index(f"{name}[{k}]")], column), (name, k)
    assert (state[:, layout.index("clock")] == 1).all()
