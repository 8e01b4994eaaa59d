"""Every declaration form of a contract spec compiles to a package that imports and scores.

The corpus: each bundled contract spec and example at every size value of its set, and
variants that swap in every other form the language accepts: random parameters from every
distribution, types from every type distribution or fixed, probabilities from Dirichlet
(one or per-entry concentrations) or fixed (vector, flat table, nested table), payments to
the agent and from it, one and two periods. Each variant is derived, rendered (every module
is parsed before anything is written: `mechdsl.codegen.templating`), written, imported, and
its env scores a batch: random actions give finite rewards, and the exact optimum of one
state, scored through the generated `score`, gives the solver's objective with no violation.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from codegen_fixtures import ROOT, import_package
from mechdsl.codegen import compile_spec
from mechdsl.lang import load_source
from mechdsl.reduce import derive
from mechdsl.solve.exact import solve
from mechdsl.solve.state import sample_states, state_at


def _read(path: str) -> str:
    return (ROOT / path).read_text(encoding="utf-8")


def _replace(source: str, *pairs: tuple[str, str]) -> str:
    for old, new in pairs:
        assert old in source, old
        source = source.replace(old, new)
    return source


def _size_set(source: str) -> tuple[int, ...]:
    """The values of `size K = v in {...}`, or (v,) without a set."""
    match = re.search(r"^size K = (\d+)(?: in \{([^}]*)\})?", source, flags=re.MULTILINE)
    return tuple(int(v) for v in match[2].split(",")) if match[2] else (int(match[1]),)


STATIC = _read("specs/static_contract.mech")
TWO_PERIOD = _read("specs/two_period.mech")
MONOPOLY = _read("examples/monopoly.mech")

# A two-period monopoly: fixed types per period, a fixed vector and a nested fixed matrix,
# prices the consumer pays in both periods (the dynamic reduction with the sign flipped).
MONOPOLY_TWO_PERIOD = _replace(
    MONOPOLY,
    ("types theta[K] = [3, 4.05, 4.6]", "types theta1[K] = [3, 4.05, 4.6]\ntypes theta2[K] = [2.5, 4, 5]"),
    ("prob p[K] = [1/3, 1/3, 1/3]",
     "prob p1[K] = [0.3, 0.3, 0.4]\nprob p2[K, K] = [[0.6, 0.3, 0.1], [0.2, 0.6, 0.2], [0.1, 0.3, 0.6]]"),
    ("allocation q[K] in [0, 10]\npayment t[K] from consumer in [0, 100]",
     "allocation q1[K] in [0, 10]\npayment t1[K] from consumer in [0, 100]\n"
     "allocation q2[K, K] in [0, 10]\npayment t2[K, K] to monopolist in [0, 100]"),
    ("period 1 {\n  type theta prob p\n  menu q, t\n}",
     "period 1 {\n  type theta1 prob p1\n  menu q1, t1\n}\nperiod 2 discount 0.9 {\n  type theta2 prob p2\n  menu q2, t2\n}"),
    ("maximize sum(k in K, p[k] * (t[k] - c * q[k]^2 / 2))",
     "maximize sum(k in K, p1[k] * (t1[k] - c * q1[k]^2 / 2 + 0.9 * sum(j in K, p2[k, j] * (t2[k, j] - c * q2[k, j]^2 / 2))))"),
    ("constraint ic", "constraint ic\nconstraint iic"),
)

CORPUS: dict[str, tuple[str, dict]] = {
    **{f"static_contract K={K}": (STATIC, {"K": K}) for K in _size_set(STATIC)},
    **{f"two_period K={K}": (TWO_PERIOD, {"K": K}) for K in _size_set(TWO_PERIOD)},
    **{f"{name} K={K}": (_read(f"examples/{name}.mech"), {"K": K})
       for name in ("concave_payment", "three_period") for K in _size_set(_read(f"examples/{name}.mech"))},
    "monopoly (fixed types and probabilities, price from the agent)": (MONOPOLY, {}),
    "monopoly two periods (nested fixed matrix, prices in both periods)": (MONOPOLY_TWO_PERIOD, {}),
    "static, every parameter distribution": (_replace(
        STATIC, ("param c ~ uniform(25, 35)", "param c ~ loguniform(25, 35)"),
        ("param vartheta ~ uniform(10, 15)", "param vartheta ~ choice(10, 12.5, 15)\nparam noise ~ normal(1, 0.01)"),
        ("- c0", "- c0 * noise")), {}),
    "static, loguniform types, per-entry Dirichlet": (_replace(
        STATIC, ("uniform(50 + 150 * k, 100 + 150 * k)", "loguniform(50 + 150 * k, 100 + 150 * k)"),
        ("prob q[K] ~ dirichlet(1)", "prob q[K] ~ dirichlet(1, 3)")), {}),
    "static, normal types, fixed probabilities": (_replace(
        STATIC, ("uniform(50 + 150 * k, 100 + 150 * k)", "normal(75 + 150 * k, 5)"),
        ("prob q[K] ~ dirichlet(1)", "prob q[K] = [0.5, 0.5]")), {}),
    "static, fixed types": (_replace(
        STATIC, ("types psi[k in K] ~ uniform(50 + 150 * k, 100 + 150 * k)", "types psi[K] = [60, 230]")), {}),
    "two_period, fixed vector and nested matrix": (_replace(
        TWO_PERIOD, ("prob p1[K] ~ dirichlet(1)", "prob p1[K] = [0.4, 0.6]"),
        ("prob p2[K, K] ~ dirichlet(1)", "prob p2[K, K] = [[0.7, 0.3], [0.2, 0.8]]")), {}),
    "two_period, flat fixed matrix, fixed types": (_replace(
        TWO_PERIOD, ("prob p2[K, K] ~ dirichlet(1)", "prob p2[K, K] = [0.7, 0.3, 0.2, 0.8]"),
        ("types theta2[j in K] ~ uniform(15 + 5 * j, 20 + 5 * j)", "types theta2[K] = [17, 22.5]")), {}),
}


# Scored on random actions only: their exact solve takes 3-25 s (three_period's unreduced
# problem is not DCP, so it falls back to SciPy); test_env_numerics certifies the generated
# scoring of three_period and two_period on 1000 states each.
WITHOUT_OPTIMUM = {name for name in CORPUS if name.startswith("three_period") or name in (
    "two_period K=4", "two_period K=5")}


@pytest.fixture(scope="module")
def corpus_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("corpus")


def _state_rows(package, state: dict[str, float]) -> torch.Tensor:
    return torch.tensor([[state[name] for name in package.STATE_LAYOUT]], dtype=torch.float64)


SLOW = {"three_period K=3"}  # about 10 s on a quiet 2-core machine (the render alone takes 5 s)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in CORPUS])
def test_variant_compiles_imports_and_scores(name, corpus_folder):
    source, overrides = CORPUS[name]
    model = load_source(source, "variant.mech", overrides)
    derivation = derive(model)
    folder = corpus_folder / re.sub(r"\W+", "_", name)
    compile_spec(model, folder, derivation=derivation, source=source)
    for module in folder.glob("*.py"):
        compile(module.read_text(encoding="utf-8"), str(module), "exec")
    package = import_package(folder, f"mechdsl_corpus_{folder.name}")
    env = package.Env(dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)
    state = env.reset(64, generator)
    assert state.shape == (64, env.state_dim) and torch.isfinite(state).all()
    action = 2 * torch.rand(64, env.action_dim, generator=generator, dtype=torch.float64) - 1
    result = env.step(action)
    assert torch.isfinite(result.reward).all() and (result.violation >= 0).all()
    if name in WITHOUT_OPTIMUM:
        return
    # the exact optimum of one state, scored by the generated certificate
    point = state_at(sample_states(model, 1, np.random.default_rng(1)), 0)
    exact = solve(model, point, derivation)
    objective, violation, _ = package.env.score(_state_rows(package, point),
                                                {k: torch.tensor([v], dtype=torch.float64)
                                                 for k, v in exact.contract.items()})
    assert float(objective[0]) == pytest.approx(exact.objective, rel=1e-6, abs=1e-6)
    assert float(violation[0]) <= 1e-6 * max(1.0, abs(exact.objective))
