"""Mish as x n / d (mechdsl.rl.activations) against torch's own mish and closed-form values."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mechdsl.rl.activations import EXP_CLAMP, Mish, mish
from mechdsl.rl.diffusion import DiffusionActor
from mechdsl.rl.networks import ACTIVATIONS, TwinCritic, mlp
from mechdsl.rl.pruning import ZERO_PRESERVING

TOLERANCE = {torch.float32: 1e-6, torch.float64: 1e-12}
LARGE = [20.0, 25.0, 29.999, EXP_CLAMP, 30.001, -30.0, 100.0, -100.0, 1e4, -1e4, 0.0, -1.1924, 19.999]


def _inputs(dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    x = torch.cat([4 * torch.randn(3999 - len(LARGE), generator=generator, dtype=dtype),
                   torch.linspace(-40, 40, 2001, dtype=dtype), torch.tensor(LARGE, dtype=dtype)])
    return x.reshape(500, 12)


def _value_and_grad(fn, x: torch.Tensor, upstream: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    leaf = x.detach().requires_grad_()
    y = fn(leaf)
    (grad,) = torch.autograd.grad(y, leaf, upstream)
    return y.detach(), grad


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_values_and_gradients_equal_torch_mish(dtype):
    x = _inputs(dtype)
    upstream = torch.randn(x.shape, generator=torch.Generator().manual_seed(1), dtype=dtype)
    ours, ours_grad = _value_and_grad(mish, x, upstream)
    ref, ref_grad = _value_and_grad(F.mish, x, upstream)
    tol = TOLERANCE[dtype]
    torch.testing.assert_close(ours, ref, rtol=tol, atol=tol)
    torch.testing.assert_close(ours_grad, ref_grad, rtol=tol, atol=tol)
    with torch.no_grad():  # the forward without the derivative
        torch.testing.assert_close(mish(x), ref, rtol=tol, atol=tol)


def test_closed_form_values():
    """f(0) = 0 and f'(0) = tanh(log 2) = 3/5; f(1) = tanh(log(1 + e)); f(x) = x and f'(x) = 1 for large x;
    f'(x) = 0 at the minimum of Mish, x* = -1.19243 (f(x*) = -0.30884)."""
    x = torch.tensor([0.0, 1.0, 50.0, 1e4, -1.1924312145154954], dtype=torch.float64, requires_grad=True)
    y = mish(x)
    (grad,) = torch.autograd.grad(y.sum(), x)
    assert y[0].item() == 0.0 and grad[0].item() == pytest.approx(0.6, abs=1e-15)
    assert y[1].item() == pytest.approx(math.tanh(math.log1p(math.e)), rel=1e-15)
    assert y[2].item() == 50.0 and y[3].item() == 1e4
    assert grad[2].item() == pytest.approx(1.0, abs=1e-15) and grad[3].item() == pytest.approx(1.0, abs=1e-15)
    assert abs(grad[4].item()) < 1e-9 and y[4].item() == pytest.approx(-0.3088434130, abs=1e-9)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_extreme_inputs_stay_finite(dtype):
    big = torch.finfo(dtype).max
    x = torch.tensor([1e30, -1e30, big, -big, EXP_CLAMP, -EXP_CLAMP, 0.0], dtype=dtype)
    y, grad = _value_and_grad(mish, x, torch.ones_like(x))
    assert torch.isfinite(y).all() and torch.isfinite(grad).all()
    assert y[0].item() == 1e30 if dtype == torch.float64 else y[0].item() == pytest.approx(1e30, rel=1e-7)
    assert y[2].item() == big and y[1].item() == 0.0 and y[3].item() == 0.0
    assert grad[[0, 2]].tolist() == [1.0, 1.0] and grad[[1, 3]].tolist() == [0.0, 0.0]


def test_gradcheck_float64():
    x = (4 * torch.randn(64, dtype=torch.float64, generator=torch.Generator().manual_seed(2))).requires_grad_()
    assert torch.autograd.gradcheck(mish, (x,))
    weight = torch.randn(64, dtype=torch.float64, generator=torch.Generator().manual_seed(3)).requires_grad_()
    (grad,) = torch.autograd.grad((weight * mish(x)).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable"):  # double backward is refused, not wrong
        grad.sum().backward()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_networks_equal_their_nn_mish_twins(dtype):
    """An MLP and a TwinCritic with Mish give the values and gradients (weights and input) of the
    same networks with torch.nn.Mish, on the same state dict."""
    torch.manual_seed(0)
    net = mlp(9, (32, 16), 3, "mish").to(dtype)
    twin = nn.Sequential(*(nn.Mish() if isinstance(m, Mish) else m for m in net)).to(dtype)
    twin.load_state_dict(net.state_dict())
    critic = TwinCritic(5, 4, (32, 16)).to(dtype)
    critic_ref = TwinCritic(5, 4, (32, 16)).to(dtype)
    critic_ref.activation = nn.Mish()
    critic_ref.load_state_dict(critic.state_dict())
    tol = 10 * TOLERANCE[dtype]
    generator = torch.Generator().manual_seed(3)
    x = (3 * torch.randn(64, 9, generator=generator, dtype=dtype)).requires_grad_()
    for ours, ref, args in ((net, twin, (x,)), (critic, critic_ref, (x[:, :5], x[:, 5:]))):
        results = []
        for model in (ours, ref):
            out = model(*args)
            loss = sum((o.sin() * o).sum() for o in (out if isinstance(out, tuple) else (out,)))
            results.append(torch.autograd.grad(loss, [x, *model.parameters()]))
        for a, b in zip(*results):
            torch.testing.assert_close(a, b, rtol=tol, atol=tol)


def test_mish_is_the_registered_activation_and_prunable():
    assert ACTIVATIONS["mish"] is Mish and Mish in ZERO_PRESERVING
    actor = DiffusionActor(3, 2, hidden=(8, 8), steps=2)
    kinds = {type(m) for m in actor.modules()}
    assert Mish in kinds and nn.Mish not in kinds
    assert list(Mish().state_dict()) == [] and mish(torch.zeros(3)).tolist() == [0.0, 0.0, 0.0]
