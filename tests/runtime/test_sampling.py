"""The distribution samplers of `mechdsl.runtime.sampling`: each law checked on many draws
against its own closed-form moments (independent of the code), the NumPy path against the
NumPy Generator calls it stands for, and the torch path on its dtype, device and seed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mechdsl.runtime import sampling

N = 200_000


def _torch(seed=0, dtype=torch.float64):
    return sampling.TorchDraws(torch.Generator().manual_seed(seed), "cpu", dtype)


def _numpy(seed=0):
    return sampling.NumpyDraws(np.random.default_rng(seed))


def _as_numpy(x):
    return x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


@pytest.mark.parametrize("draws", [_torch, _numpy])
def test_scalar_laws_have_their_moments(draws):
    u = _as_numpy(sampling.draw(draws(), "uniform", (2.0, 5.0), (N,)))
    assert u.min() >= 2.0 and u.max() < 5.0
    assert abs(u.mean() - 3.5) < 0.02 and abs(u.var() - 9 / 12) < 0.02
    g = _as_numpy(sampling.draw(draws(1), "loguniform", (0.5, 8.0), (N,)))
    log = np.log(g)  # uniform on [log 0.5, log 8]
    assert abs(log.mean() - (math.log(0.5) + math.log(8.0)) / 2) < 0.02 and g.min() >= 0.5 and g.max() <= 8.0
    z = _as_numpy(sampling.draw(draws(2), "normal", (1.0, 3.0), (N,)))
    assert abs(z.mean() - 1.0) < 0.05 and abs(z.std() - 3.0) < 0.05
    c = _as_numpy(sampling.draw(draws(3), "choice", (1.5, 4.0, 7.0), (N,)))
    values, counts = np.unique(c, return_counts=True)
    assert values.tolist() == [1.5, 4.0, 7.0] and np.allclose(counts / N, 1 / 3, atol=0.01)


@pytest.mark.parametrize("draws", [_torch, _numpy])
def test_dirichlet_rows_are_probabilities_with_the_right_means(draws):
    alpha = (1.0, 2.0, 5.0)
    table = _as_numpy(sampling.DirichletRows(2, alpha).block(draws(), N // 10))
    rows = table.reshape(-1, 2, 3)
    assert table.shape == (N // 10, 6) and np.allclose(rows.sum(-1), 1.0) and (rows >= 0).all()
    assert np.allclose(rows.mean((0, 1)), np.array(alpha) / sum(alpha), atol=0.01)
    # Var X_j = a_j (a0 - a_j) / (a0^2 (a0 + 1)), a0 = sum a
    a0 = sum(alpha)
    assert np.allclose(rows[:, :, 0].var(), 1 * (a0 - 1) / (a0 ** 2 * (a0 + 1)), rtol=0.05)


@pytest.mark.parametrize("draws", [_torch, _numpy])
def test_state_blocks_fill_their_columns_in_order(draws):
    blocks = (sampling.Scalar("uniform", (10.0, 11.0)),
              sampling.SortedTypes((("uniform", (0.0, 1.0)), ("uniform", (0.0, 1.0)), ("normal", (0.5, 1.0)))),
              sampling.Fixed((3.0, 4.0)),
              sampling.DirichletRows(1, (1.0, 1.0)))
    table = _as_numpy(sampling.sample_columns(blocks, 500, draws()))
    assert table.shape == (500, 8)
    assert ((table[:, 0] >= 10) & (table[:, 0] < 11)).all()
    assert (np.diff(table[:, 1:4], axis=1) >= 0).all()  # types sorted ascending per state
    assert (table[:, 4:6] == [3.0, 4.0]).all() and np.allclose(table[:, 6] + table[:, 7], 1.0)


def test_numpy_path_is_the_numpy_generator_calls():
    """The NumPy primitives consume the stream exactly as the Generator's own methods."""
    assert np.array_equal(sampling.draw(_numpy(5), "uniform", (1.0, 2.0), 50),
                          np.random.default_rng(5).uniform(1.0, 2.0, 50))
    assert np.array_equal(sampling.draw(_numpy(5), "choice", (1.0, 2.0, 9.0), 50),
                          np.random.default_rng(5).choice(np.array([1.0, 2.0, 9.0]), 50))
    assert np.array_equal(sampling.DirichletRows(3, (1.0, 2.0)).block(_numpy(5), 7),
                          np.random.default_rng(5).dirichlet([1.0, 2.0], size=(7, 3)).reshape(7, 6))


def test_torch_path_keeps_dtype_and_is_deterministic_given_the_generator():
    blocks = (sampling.Scalar("loguniform", (0.1, 2.0)), sampling.DirichletRows(2, (1.0, 1.0)))
    first = sampling.sample_columns(blocks, 64, _torch(9, torch.float32))
    again = sampling.sample_columns(blocks, 64, _torch(9, torch.float32))
    assert first.dtype == torch.float32 and torch.equal(first, again)
    assert not torch.equal(first, sampling.sample_columns(blocks, 64, _torch(10, torch.float32)))


def test_unknown_scalar_distribution_is_refused():
    with pytest.raises(ValueError, match="cannot draw a scalar from dirichlet"):
        sampling.draw(_numpy(), "dirichlet", (1.0,), 3)


@pytest.mark.parametrize("draws", [_torch, _numpy])
def test_bernoulli_frequency(draws):
    b = _as_numpy(sampling.draw(draws(4), "bernoulli", (0.3,), (N,)))
    assert set(np.unique(b).tolist()) == {0.0, 1.0} and abs(b.mean() - 0.3) < 0.01


def test_torch_draws_take_per_sample_tensor_arguments():
    """A scenario draws with state-dependent arguments on the device and dtype of a tensor."""
    like = torch.zeros(N, dtype=torch.float64)
    low, high = torch.full_like(like, 1.0), torch.full_like(like, 3.0)
    draws = sampling.TorchDraws.like(like, torch.Generator().manual_seed(0))
    u = sampling.draw(draws, "uniform", (low, high), like.shape)
    g = sampling.draw(draws, "loguniform", (low, high), like.shape)
    assert u.dtype == torch.float64 and abs(float(u.mean()) - 2.0) < 0.01
    assert abs(float(g.log().mean()) - math.log(3.0) / 2) < 0.01 and float(g.min()) >= 1.0
