"""The batched twin critic is two independent critics evaluated in one matmul per layer:
same initialisation stream, same values, same gradients as two separate ``Critic`` MLPs."""
from __future__ import annotations

import pytest
import torch

from mechdsl.rl.networks import Critic, TwinCritic, init_from_generator

OBS, ACT, HIDDEN = 7, 5, (32, 16)


def _separate_and_batched(seed: int = 3, activation: str = "mish"):
    """Two Critics initialised one after the other from one stream, and a TwinCritic from the same stream."""
    generator = torch.Generator().manual_seed(seed)
    q1 = init_from_generator(Critic(OBS, ACT, HIDDEN, activation), generator)
    q2 = init_from_generator(Critic(OBS, ACT, HIDDEN, activation), generator)
    twin = init_from_generator(TwinCritic(OBS, ACT, HIDDEN, activation), torch.Generator().manual_seed(seed))
    return q1, q2, twin


def _inputs(seed: int = 11, batch: int = 64):
    generator = torch.Generator().manual_seed(seed)
    obs = 2 * torch.rand(batch, OBS, generator=generator) - 1
    action = (2 * torch.rand(batch, ACT, generator=generator) - 1).requires_grad_()
    return obs, action


def test_init_draws_each_member_as_a_separate_critic_would():
    q1, q2, twin = _separate_and_batched()
    for l, layer in enumerate(twin.layers):
        for member, critic in enumerate((q1, q2)):
            assert torch.equal(layer.weight[member], critic.net[2 * l].weight)
            assert torch.equal(layer.bias[member], critic.net[2 * l].bias)


@pytest.mark.parametrize("activation", ["mish", "relu"])
def test_values_and_gradients_equal_two_separate_critics(activation):
    q1, q2, twin = _separate_and_batched(activation=activation)
    obs, action = _inputs()
    target = torch.randn(obs.shape[0], generator=torch.Generator().manual_seed(5))
    b1, b2 = twin(obs, action)
    s1, s2 = q1(obs, action), q2(obs, action)
    assert torch.allclose(b1, s1, atol=1e-6, rtol=0) and torch.allclose(b2, s2, atol=1e-6, rtol=0)
    assert not torch.allclose(s1, s2)  # the members are distinct networks

    loss_batched = ((b1 - target) ** 2).mean() + ((b2 - target) ** 2).mean() + torch.minimum(b1, b2).sum()
    grads_batched = torch.autograd.grad(loss_batched, [action, *twin.parameters()])
    loss_separate = ((s1 - target) ** 2).mean() + ((s2 - target) ** 2).mean() + torch.minimum(s1, s2).sum()
    grads_separate = torch.autograd.grad(loss_separate, [action, *q1.parameters(), *q2.parameters()])
    assert torch.allclose(grads_batched[0], grads_separate[0], atol=1e-6, rtol=0)
    n = len(list(q1.parameters()))
    for k, (w1, w2) in enumerate(zip(grads_separate[1:1 + n], grads_separate[1 + n:])):
        assert torch.allclose(grads_batched[1 + k], torch.stack([w1, w2]), atol=1e-6, rtol=0)


@pytest.mark.parametrize("aggregate", ["min", "mean", "first"])
def test_actor_value_has_the_separate_critics_action_gradient_and_none_for_the_weights(aggregate):
    q1, q2, twin = _separate_and_batched()
    obs, action = _inputs()
    value = twin.actor_value(obs, action, aggregate)
    s1, s2 = q1(obs, action), q2(obs, action)
    expected = {"min": torch.minimum(s1, s2), "mean": 0.5 * (s1 + s2), "first": s1}[aggregate]
    assert torch.allclose(value, expected, atol=1e-6, rtol=0)
    (grad,) = torch.autograd.grad(value.sum(), action)
    (grad_expected,) = torch.autograd.grad(expected.sum(), action)
    assert torch.allclose(grad, grad_expected, atol=1e-6, rtol=0)
    value = twin.actor_value(obs, action, aggregate)
    value.sum().backward()
    assert all(p.grad is None for p in twin.parameters())


def test_reads_the_state_dict_of_the_former_two_module_layout():
    q1, q2, _ = _separate_and_batched()
    legacy = {**{f"q1.{k}": v for k, v in q1.state_dict().items()}, **{f"q2.{k}": v for k, v in q2.state_dict().items()}}
    twin = TwinCritic(OBS, ACT, HIDDEN)
    twin.load_state_dict(legacy)
    obs, action = _inputs()
    assert torch.allclose(twin(obs, action)[1], q2(obs, action), atol=1e-6, rtol=0)


def test_adam_foreach_is_bitwise_the_per_tensor_loop():
    from mechdsl.rl.algorithms.base import adam

    generator = torch.Generator().manual_seed(2)
    start = [torch.randn(shape, generator=generator) for shape in [(2, 16, 9), (2, 16), (5,)]]
    runs = []
    for make in (lambda ps: adam(ps, 1e-3, 1e-4), lambda ps: torch.optim.Adam(ps, lr=1e-3, weight_decay=1e-4, foreach=False)):
        params = [p.clone().requires_grad_() for p in start]
        opt, grads = make(params), torch.Generator().manual_seed(3)
        for _ in range(20):
            for p in params:
                p.grad = torch.randn(p.shape, generator=grads)
            opt.step()
        runs.append(params)
    assert all(torch.equal(a, b) for a, b in zip(*runs))
    assert not torch.equal(runs[0][0], start[0])


def test_an_optimizer_state_of_two_separate_critics_loads_into_the_batched_one():
    from mechdsl.rl.algorithms.base import adam
    from mechdsl.rl.networks import stack_legacy_twin_state

    q1, q2, twin = _separate_and_batched()
    legacy = adam([*q1.parameters(), *q2.parameters()], 1e-3)
    obs, action = _inputs()
    for _ in range(3):
        legacy.zero_grad()
        (q1(obs, action).pow(2).mean() + q2(obs, action).sin().mean()).backward()
        legacy.step()
    optimizer = adam(twin.parameters(), 1e-3)
    optimizer.load_state_dict(stack_legacy_twin_state(legacy.state_dict(), optimizer))
    for l, weight in enumerate(p for p in twin.parameters() if p.dim() == 3):
        moments = optimizer.state[weight]
        assert torch.equal(moments["exp_avg"], torch.stack([legacy.state[q1.net[2 * l].weight]["exp_avg"],
                                                            legacy.state[q2.net[2 * l].weight]["exp_avg"]]))
        assert float(moments["step"]) == 3
    own = optimizer.state_dict()
    assert stack_legacy_twin_state(own, optimizer) is own  # a current state passes through
