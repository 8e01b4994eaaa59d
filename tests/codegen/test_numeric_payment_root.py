"""Payments without a closed form in the generated env (issue 29, item 5): Stiglitz insurance with
log utility, whose least premiums are roots of u(p, x, y) = target (`mechdsl.runtime.payment_root`:
batched bisection, then one Newton step that carries the implicit-function gradient).

Each check is against an independent computation written here: SciPy's brentq on the utility
as the textbook writes it, the implicit function theorem's dy/dx = -u_x / u_y, central finite
differences, and the exact optimum 0.210709 (tests/solve/test_textbook_corpus.py)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from scipy.optimize import brentq

from codegen_fixtures import ROOT, import_package
import mechdsl
from mechdsl.codegen import compile_spec
from mechdsl.reduce import derive
from mechdsl.rl import train
from mechdsl.runtime.payment_root import bisection_steps, payment_root

SPEC = ROOT / "tests" / "solve" / "specs" / "insurance_log_utility.mech"
W, L = 10.0, 5.0
OPTIMUM = 0.2107085837  # the unreduced multi-start SLSQP and the textbook search (test_textbook_corpus.py)


def u(p, x, y):
    """The spec's utility, as the textbook writes it (NumPy)."""
    return (1 - p) * np.log(W - y) + p * np.log(W - L + x - y) - (1 - p) * np.log(W) - p * np.log(W - L)


def premium(p, x, target):
    """The root in y of u(p, x, y) = target, by brentq on the widest bracket where u is defined."""
    return brentq(lambda y: u(p, x, y) - target, -W, W - L + x - 1e-12, xtol=1e-15)


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    folder = tmp_path_factory.mktemp("insurance_log")
    model = mechdsl.load(SPEC)
    compile_spec(model, folder / "package", derivation=derive(model), source=SPEC.read_text(encoding="utf-8"))
    return import_package(folder / "package", "mechdsl_numeric_root_insurance")


def torch_utility(y, p, x):
    return (1 - p) * torch.log(W - y) + p * torch.log(W - L + x - y) - (1 - p) * np.log(W) - p * np.log(W - L)


def torch_slope(y, p, x):
    return -(1 - p) / (W - y) - p / (W - L + x - y)


def test_formulas_call_the_batched_root(package):
    source = (package.formulas.__file__ and open(package.formulas.__file__).read())
    assert "from mechdsl.runtime.payment_root import payment_root" in source
    assert source.count("payment_root(lambda _y") == 2


def test_env_premiums_are_brentq_roots_on_200_random_actions(package):
    """float64: the env's least premiums (repair off) equal brentq's roots of the binding IR and
    IC to 1e-9, for 200 random coverages (the spec's types are fixed: p = (0.2, 0.4))."""
    env = package.env
    generator = torch.Generator().manual_seed(7)
    state = env.sample_states(200, generator, dtype=torch.float64)
    action = 2 * torch.rand(200, len(env.ACTION_LAYOUT), generator=generator, dtype=torch.float64) - 1
    contract = env.contract_from_action(state, action, repair=False)
    x0, x1, y0, y1 = (contract[k].numpy() for k in ("x[0]", "x[1]", "y[0]", "y[1]"))
    want0 = np.array([premium(0.2, a, 0.0) for a in x0])
    want1 = np.array([premium(0.4, b, u(0.4, a, c)) for a, b, c in zip(x0, x1, want0)])
    assert np.abs(y0 - want0).max() < 1e-9 and np.abs(y1 - want1).max() < 1e-9
    assert np.all((0 <= y0) & (y0 <= 5)) and np.all(y1 >= y0)


def test_batched_root_equals_brentq_on_200_random_states():
    """The runtime function itself on random (p, x, target): float64 to 1e-9, float32 to its precision."""
    rng = np.random.default_rng(3)
    p, x = rng.uniform(0.05, 0.6, 200), rng.uniform(0, 5, 200)
    roots = rng.uniform(0, 4.5, 200)
    roots = np.minimum(roots, W - L + x - 0.1)
    target = u(p, x, roots)  # a root in [0, 5] by construction
    for dtype, tolerance in ((torch.float64, 1e-9), (torch.float32, 2e-5)):
        args = tuple(torch.tensor(a, dtype=dtype) for a in (p, x))
        got = payment_root(torch_utility, torch_slope, torch.tensor(target, dtype=dtype), args, 0.0, 5.0, False)
        want = np.array([premium(*z) for z in zip(p, x, target)])
        assert got.dtype == dtype and np.abs(got.double().numpy() - want).max() < tolerance
    for dtype in (torch.float64, torch.float32):  # the bracket ends within the dtype's resolution at 5
        steps = bisection_steps(dtype, 0.0, 5.0)
        assert 5.0 / 2 ** steps <= torch.finfo(dtype).eps * 5.0 < 5.0 / 2 ** (steps - 2)


def test_gradient_is_the_implicit_function_theorems():
    """dy/dx = -u_x / u_y, dy/dp = -u_p / u_y, dy/dtarget = 1 / u_y at the root, to 1e-6, and the
    same as central finite differences of brentq's root."""
    rng = np.random.default_rng(5)
    p = torch.tensor(rng.uniform(0.1, 0.5, 50), requires_grad=True)
    x = torch.tensor(rng.uniform(0.5, 4.5, 50), requires_grad=True)
    roots = rng.uniform(0.0, 4.0, 50)  # targets with a root inside [0, 5]
    target = torch.tensor(u(p.detach().numpy(), x.detach().numpy(), roots), requires_grad=True)
    y = payment_root(torch_utility, torch_slope, target, (p, x), 0.0, 5.0, False)
    gp, gx, gt = torch.autograd.grad(y.sum(), (p, x, target))
    P, X, T, Y = (v.detach().numpy() for v in (p, x, target, y))
    u_y = -(1 - P) / (W - Y) - P / (W - L + X - Y)
    u_x = P / (W - L + X - Y)
    u_p = -np.log(W - Y) + np.log(W - L + X - Y) + np.log(W) - np.log(W - L)
    assert np.abs(gx.numpy() - (-u_x / u_y)).max() < 1e-6
    assert np.abs(gp.numpy() - (-u_p / u_y)).max() < 1e-6
    assert np.abs(gt.numpy() - 1 / u_y).max() < 1e-6
    h = 1e-6
    fd = np.array([(premium(a, b + h, c) - premium(a, b - h, c)) / (2 * h) for a, b, c in zip(P, X, T)])
    assert np.abs(gx.numpy() - fd).max() < 1e-6


def test_env_gradient_through_the_chain_matches_finite_differences(package):
    """d(objective)/d(action) of the env (y[1] depends on x[0] through y[0] and its own target)
    against central differences of the env's own float64 evaluation."""
    env = package.env
    state = env.sample_states(4, torch.Generator().manual_seed(0), dtype=torch.float64)
    action = torch.tensor([[-0.5, 0.2], [0.1, 0.3], [-0.9, 0.9], [0.4, -0.4]], dtype=torch.float64, requires_grad=True)
    reward = env.evaluate(state, action, repair=False).reward
    (grad,) = torch.autograd.grad(reward.sum(), action)
    h = 1e-6
    for j in range(2):
        step = torch.zeros_like(action)
        step[:, j] = h
        with torch.no_grad():
            fd = (env.evaluate(state, action + step, repair=False).reward
                  - env.evaluate(state, action - step, repair=False).reward) / (2 * h)
        assert torch.allclose(grad[:, j], fd, atol=1e-6)


def test_no_root_within_the_bounds_leaves_them_and_is_a_violation():
    """A target above u(p, x, 0) (the agent would need to be paid): no premium in [0, 5] meets it;
    bisection ends at 0 and the Newton step carries the payment below it (never clamped into the
    bounds), by (u(0) - target) / u_y(0), so the declared bound y >= 0 fails."""
    p, x = torch.tensor([0.3], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64)
    target = torch.tensor([float(u(0.3, 1.0, 0.0)) + 0.01], dtype=torch.float64)
    y = payment_root(torch_utility, torch_slope, target, (p, x), 0.0, 5.0, False)
    slope = float(torch_slope(torch.zeros(1, dtype=torch.float64), p, x))
    assert float(y) == pytest.approx(0.01 / slope, rel=1e-9) and float(y) < 0


def test_env_trains_to_the_exact_optimum_without_violations(package):
    """Amortized training (60 steps, 64 x 64, one thread: ~10 s) reaches ratio >= 0.99 of the exact
    optimum with no deployed violation (measured: 0.9998 after 25 steps, 1.0000 from 50 on)."""
    env = package.Env()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small networks: more threads only contend (79 s with the default on 2 busy cores)
    try:
        start = time.perf_counter()
        run = train(env, "amortized", steps=60, seed=0, eval_every=60, eval_states=8, log="none",
                    hparams={"hidden": (64, 64)})
        seconds = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    final = run.final
    assert final["optimality_ratio"] >= 0.99 and final["optimality_ratio"] <= 1.0 + 1e-6, final
    assert final["violation_rate"] == 0.0
    optimum = env.optimum(env.sample(1, torch.Generator().manual_seed(0)).double())
    assert float(optimum[0]) == pytest.approx(OPTIMUM, rel=1e-6)
    assert seconds < 120, seconds
