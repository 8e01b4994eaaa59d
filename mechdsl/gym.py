"""A generated batched env as a Gymnasium vector env: `as_vector_env(env, num_envs)`.

`env` is any `mechdsl.rl.env.BatchedEnv` of horizon 1 (every `generated/<name>.Env`); the
result is a `gymnasium.vector.VectorEnv` over `num_envs` contract-design problems at once:

  * observation space: Box(STATE_LOW, STATE_HIGH) per sub-env (the env's `state_low` and
    `state_high`; a normal draw is bounded by mean +- 3 sd there and can leave the box), or
    Box(-1, 1) with `normalize=True` (`mechdsl.rl.env.observation`); action space:
    Box(-1, 1)^action_dim. Arrays are NumPy in the env's dtype (float32 by default).
  * `reset(seed=...)` draws `num_envs` states with a torch generator seeded by `seed`
    (None: seeded once from the OS); the same seed gives the same states and, with the same
    actions, the same steps.
  * `step(actions)` scores the actions on the current states with `env.evaluate` and returns
    reward = objective - action penalty (eq. 46, `mechdsl.rl.env.learning_reward`). Horizon
    1: every step terminates every sub-env (`terminated` all True, `truncated` all False)
    and the vector env resets them IN THE SAME STEP (Gymnasium's `AutoresetMode.SAME_STEP`):
    the returned observations are fresh states; the scored ones are `info["final_obs"]`
    (mask `info["_final_obs"]`). The rest of `info` describes the scored step, one array
    (num_envs,) per key: `objective`, `penalty`, `violation` (worst violation of the
    original constraints, 0 = feasible) and every contract item and truthful utility by
    name (`"T1[0]"`, `"R1[0]"`, `"u1[0]"`, ...).

Gymnasium is imported only when an adapter is made; without it `as_vector_env` raises
ModuleNotFoundError telling to `pip install 'mechdsl[gym]'`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from mechdsl.rl.env import BatchedEnv, learning_reward, observation

INSTALL_HINT = "the Gymnasium adapter needs gymnasium: pip install 'mechdsl[gym]'"


def _gymnasium():
    try:
        import gymnasium
        import gymnasium.vector.utils  # noqa: F401 - batch_space
    except ImportError as error:
        raise ModuleNotFoundError(INSTALL_HINT) from error
    return gymnasium


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().to("cpu").numpy()


@lru_cache(maxsize=1)
def _vector_env_class():
    gym = _gymnasium()
    autoreset = getattr(gym.vector, "AutoresetMode", None)

    class MechanismVectorEnv(gym.vector.VectorEnv):
        """`num_envs` copies of a horizon-1 mechdsl env (see `mechdsl.gym`)."""

        metadata = {"autoreset_mode": autoreset.SAME_STEP if autoreset else "SameStep"}

        def __init__(self, env: BatchedEnv, num_envs: int, normalize: bool = False):
            if getattr(env, "horizon", 1) != 1:
                raise ValueError(f"only horizon-1 envs are supported, got horizon {env.horizon}")
            if num_envs < 1:
                raise ValueError(f"num_envs must be >= 1, got {num_envs}")
            self.env, self.num_envs, self.normalize = env, int(num_envs), normalize
            dtype = np.dtype(str(env.dtype).removeprefix("torch."))
            if normalize:
                low, high = -np.ones(env.state_dim, dtype), np.ones(env.state_dim, dtype)
            else:
                low, high = _numpy(env.state_low).astype(dtype), _numpy(env.state_high).astype(dtype)
            self.single_observation_space = gym.spaces.Box(low, high, dtype=dtype)
            self.single_action_space = gym.spaces.Box(-1.0, 1.0, shape=(env.action_dim,), dtype=dtype)
            self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
            self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
            self._generator = torch.Generator(device=env.device)
            self._generator.seed()
            self._state: torch.Tensor | None = None

        def _observe(self, state: torch.Tensor) -> np.ndarray:
            return _numpy(observation(self.env, state) if self.normalize else state)

        def reset(self, *, seed: int | None = None, options: dict | None = None):
            if seed is not None:
                self._generator.manual_seed(int(seed))
            self._state = self.env.reset(self.num_envs, self._generator)
            return self._observe(self._state), {}

        def step(self, actions):
            if self._state is None:
                raise RuntimeError("call reset() before step()")
            action = torch.as_tensor(np.asarray(actions), device=self.env.device).to(self.env.dtype)
            if action.shape != (self.num_envs, self.env.action_dim):
                raise ValueError(f"actions must have shape {(self.num_envs, self.env.action_dim)}, "
                                 f"got {tuple(action.shape)}")
            scored = self._state
            with torch.no_grad():
                result = self.env.evaluate(scored, action)
            reward = _numpy(learning_reward(result)).astype(np.float64)
            info = {"objective": _numpy(result.reward), "penalty": _numpy(result.penalty),
                    "violation": _numpy(result.violation)}
            info.update({name: _numpy(value) for name, value in result.info.items()})
            info["final_obs"] = self._observe(scored)
            info["_final_obs"] = np.ones(self.num_envs, dtype=bool)
            self._state = self.env.reset(self.num_envs, self._generator)  # same-step autoreset
            terminated = np.ones(self.num_envs, dtype=bool)
            truncated = np.zeros(self.num_envs, dtype=bool)
            return self._observe(self._state), reward, terminated, truncated, info

        def close_extras(self, **kwargs):
            self._state = None

    return MechanismVectorEnv


def as_vector_env(env: BatchedEnv, num_envs: int, normalize: bool = False):
    """`env` (a horizon-1 `BatchedEnv`) as a `gymnasium.vector.VectorEnv` of `num_envs`
    sub-envs; see the module docstring for spaces, seeding and autoreset semantics."""
    return _vector_env_class()(env, num_envs, normalize)


__all__ = ["INSTALL_HINT", "as_vector_env"]
