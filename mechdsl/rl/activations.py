"""Mish, f(x) = x tanh(softplus(x)) (Misra 2019), as a rational function of e = exp(x).

With e = exp(min(x, 30)), n = e (e + 2) and d = n + 2:
    tanh(log(1 + e)) = ((1 + e)^2 - 1) / ((1 + e)^2 + 1) = n / d        (exact identity),
    f(x)  = x n / d,
    f'(x) = n / d + x sigma(x) (1 - tanh^2(softplus(x))) = n / d + 4 x e (1 + e) / d^2,
using sigma(x) = e / (1 + e) and 1 - (n / d)^2 = 4 (1 + e)^2 / d^2.
The clamp changes no representable value: n + 2 rounds to n once n >= 2^54 (x >= 18.7; float32
x >= 8.7), so the division n / d gives exactly 1 there, and the derivative's second term, taken
at min(x, 30), is at most 120 e^-60 ~ 1e-24 beyond the clamp (the true term, ~4 x e^-2x, is
below half an ulp of 1 for every x >= 22), so f(x) = x and f'(x) = 1 for x >= 30 exactly, as
in ``torch.nn.functional.mish``. No intermediate overflows for any finite x, in float32 either:
e (1 + e) <= 1.2e26 and its factor x is at most 30. (A clamp at 20 would leave f'(x) one ulp
above 1 in float64 for every x >= 20.)

``torch.nn.Mish`` computes the same function; its CPU kernels are slow on this machine
(forward and backward ~3x slower on a (256, 256) float32 tensor, benchmarks/bench_mish.py),
and the profile of EDMSAC training spends a third of its time in them. The derivative is
formed in the forward pass when the input needs a gradient and saved alone (one tensor
instead of x, e and d), so the backward pass is one multiplication.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.autograd.function import once_differentiable

EXP_CLAMP = 30.0  # exp(x) is taken at min(x, EXP_CLAMP); see the module docstring


class _MishFunction(torch.autograd.Function):
    """f(x) = x n / d; backward: grad f'(x), f' = n / d + 4 x e (1 + e) / d^2 (module docstring)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        if not ctx.needs_input_grad[0]:
            e = x.clamp(max=EXP_CLAMP).exp_()
            n = e.add(2.0).mul_(e)
            return n.div_(n + 2.0).mul_(x)
        x_clamped = x.clamp(max=EXP_CLAMP)
        e = x_clamped.exp()
        n = e.add(2.0).mul_(e)
        d = n + 2.0
        tanh_softplus = n.div_(d)
        out = x * tanh_softplus
        # f' = n / d + 4 (x e (1 + e) / d) / d, built in place (divisions, not a reciprocal: n / d
        # is then exactly 1 wherever n + 2 rounds to n)
        term = torch.addcmul(e, e, e).mul_(x_clamped).div_(d).div_(d)
        ctx.save_for_backward(tanh_softplus.add_(term, alpha=4.0))
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (slope,) = ctx.saved_tensors
        return grad * slope


def mish(x: torch.Tensor) -> torch.Tensor:
    """x tanh(softplus(x)), elementwise; once differentiable (no double backward)."""
    return _MishFunction.apply(x)


class Mish(nn.Module):
    """``torch.nn.Mish`` with the faster kernels of ``mish``; no parameters, so state dicts
    of networks built with either are the same."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return mish(x)
