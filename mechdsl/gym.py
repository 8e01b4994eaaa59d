"""Generated batched envs as Gymnasium envs: `as_vector_env`, `as_env` and `register`.

`env` is any `mechdsl.rl.env.BatchedEnv` of horizon 1 (every `generated/<name>.Env` of a
contract or game spec); each episode is one mechanism-design problem (a sampled state) and
one action (a contract menu, or the auctioneer's clock settings):

  * `as_vector_env(env, num_envs)`: a `gymnasium.vector.VectorEnv` over `num_envs` problems
    at once (batched on the torch side);
  * `as_env(env)`: a single `gymnasium.Env` (`reset` -> one state, `step(action)` ->
    terminated);
  * `register(package)`: a `gymnasium.make` id for a compiled package,
    `"mechdsl/<name>-v0"`; `gymnasium.make(id, normalize=True, out_of_bounds="raise",
    dtype=torch.float64, ...)` passes the adapter's and the Env's keyword arguments on.

Spaces, seeding, rewards:
  * observation space: Box(STATE_LOW, STATE_HIGH) per problem (the env's `state_low` and
    `state_high`; a normal draw is bounded by mean +- 3 sd there and can leave the box), or
    Box(-1, 1) with `normalize=True` (`mechdsl.rl.env.observation`); action space:
    Box(-1, 1)^action_dim. Arrays are NumPy in the env's dtype (float32 by default).
  * `reset(seed=...)` draws the states with a torch generator seeded by `seed` (None: seeded
    once from the OS); the same seed gives the same states and, with the same actions, the
    same steps.
  * `step(actions)` scores the actions on the current states with `env.evaluate` and returns
    reward = objective - action penalty (eq. 46, `mechdsl.rl.env.learning_reward`).
  * Out-of-bounds actions: with `out_of_bounds="clip"` (the default) every entry is clipped
    to [-1, 1] before it is scored (as `gymnasium.wrappers.ClipAction` does; the penalty is
    that of the clipped action) and `info["clipped_actions"]` counts the clipped entries per
    problem; with `out_of_bounds="raise"` an entry outside [-1, 1] is a ValueError. A NaN or
    infinite entry is always a ValueError.
  * Horizon 1: every step terminates (`terminated` True, `truncated` False). The vector env
    resets IN THE SAME STEP (Gymnasium's `AutoresetMode.SAME_STEP`): the returned
    observations are fresh states, the scored ones are `info["final_obs"]` (mask
    `info["_final_obs"]`); the single env returns the scored state's observation and wants
    `reset()` before the next step. The rest of `info` describes the scored step (one array
    (num_envs,) per key, a float in the single env): `objective`, `penalty`, `violation`
    (worst violation of the original constraints, 0 = feasible) and every contract item and
    truthful utility by name (`"T1[0]"`, `"R1[0]"`, `"u1[0]"`, ...).

Gymnasium is imported only when an adapter is made; without it the adapters raise
ModuleNotFoundError telling to `pip install 'mechdsl[gym]'` (it is also in the `dev` extra).
"""

from __future__ import annotations

import sys
from functools import lru_cache

import numpy as np
import torch

from mechdsl.rl.env import BatchedEnv, learning_reward, observation

INSTALL_HINT = "the Gymnasium adapter needs gymnasium: pip install 'mechdsl[gym]'"
OUT_OF_BOUNDS = ("clip", "raise")  # what an action entry outside [-1, 1] gets
ID_PREFIX = "mechdsl/"


def _gymnasium():
    try:
        import gymnasium
        import gymnasium.vector.utils  # noqa: F401 - batch_space
    except ImportError as error:
        raise ModuleNotFoundError(INSTALL_HINT) from error
    return gymnasium


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().to("cpu").numpy()


def _check_adaptable(env: BatchedEnv, out_of_bounds: str) -> None:
    if getattr(env, "horizon", 1) != 1:
        raise ValueError(f"only horizon-1 envs are supported, got horizon {env.horizon}")
    if out_of_bounds not in OUT_OF_BOUNDS:
        raise ValueError(f"out_of_bounds must be one of {', '.join(OUT_OF_BOUNDS)}, got {out_of_bounds!r}")


def bounded_actions(actions: np.ndarray, out_of_bounds: str) -> tuple[np.ndarray, np.ndarray]:
    """(actions within [-1, 1], entries clipped per row) for (rows, action_dim) `actions`:
    clipped, or a ValueError for any entry outside with `out_of_bounds="raise"`; NaN and
    infinite entries are always a ValueError."""
    if not np.all(np.isfinite(actions)):
        raise ValueError("actions must be finite numbers; got NaN or infinity")
    outside = np.abs(actions) > 1.0
    if outside.any() and out_of_bounds == "raise":
        raise ValueError(f"{int(outside.sum())} action entr{'y is' if outside.sum() == 1 else 'ies are'} outside "
                         f"the action space [-1, 1] (largest magnitude {np.abs(actions).max():.4g}); "
                         "pass out_of_bounds='clip' to clip them")
    return np.clip(actions, -1.0, 1.0), outside.sum(axis=-1)


def _spaces(gym, env: BatchedEnv, normalize: bool):
    """(single observation space, single action space) of `env`."""
    dtype = np.dtype(str(env.dtype).removeprefix("torch."))
    if normalize:
        low, high = -np.ones(env.state_dim, dtype), np.ones(env.state_dim, dtype)
    else:
        low, high = _numpy(env.state_low).astype(dtype), _numpy(env.state_high).astype(dtype)
    return (gym.spaces.Box(low, high, dtype=dtype),
            gym.spaces.Box(-1.0, 1.0, shape=(env.action_dim,), dtype=dtype))


def _score(env: BatchedEnv, state: torch.Tensor, actions, rows: int, out_of_bounds: str):
    """(learning reward (rows,), info of the scored step) of `actions` on `state`."""
    actions = np.asarray(actions, dtype=np.float64)
    if actions.shape != (rows, env.action_dim):
        raise ValueError(f"actions must have shape {(rows, env.action_dim)}, got {tuple(actions.shape)}")
    bounded, clipped = bounded_actions(actions, out_of_bounds)
    action = torch.as_tensor(bounded, device=env.device).to(env.dtype)
    with torch.no_grad():
        result = env.evaluate(state, action)
    reward = _numpy(learning_reward(result)).astype(np.float64)
    info = {"objective": _numpy(result.reward), "penalty": _numpy(result.penalty),
            "violation": _numpy(result.violation), "clipped_actions": clipped}
    info.update({name: _numpy(value) for name, value in result.info.items()})
    return reward, info


@lru_cache(maxsize=1)
def _vector_env_class():
    gym = _gymnasium()
    autoreset = getattr(gym.vector, "AutoresetMode", None)

    class MechanismVectorEnv(gym.vector.VectorEnv):
        """`num_envs` copies of a horizon-1 mechdsl env (see `mechdsl.gym`)."""

        metadata = {"autoreset_mode": autoreset.SAME_STEP if autoreset else "SameStep"}

        def __init__(self, env: BatchedEnv, num_envs: int, normalize: bool = False, out_of_bounds: str = "clip"):
            _check_adaptable(env, out_of_bounds)
            if num_envs < 1:
                raise ValueError(f"num_envs must be >= 1, got {num_envs}")
            self.env, self.num_envs, self.normalize = env, int(num_envs), normalize
            self.out_of_bounds = out_of_bounds
            self.single_observation_space, self.single_action_space = _spaces(gym, env, normalize)
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
            scored = self._state
            reward, info = _score(self.env, scored, actions, self.num_envs, self.out_of_bounds)
            info["final_obs"] = self._observe(scored)
            info["_final_obs"] = np.ones(self.num_envs, dtype=bool)
            self._state = self.env.reset(self.num_envs, self._generator)  # same-step autoreset
            terminated = np.ones(self.num_envs, dtype=bool)
            truncated = np.zeros(self.num_envs, dtype=bool)
            return self._observe(self._state), reward, terminated, truncated, info

        def close_extras(self, **kwargs):
            self._state = None

    return MechanismVectorEnv


@lru_cache(maxsize=1)
def _env_class():
    gym = _gymnasium()

    class MechanismEnv(gym.Env):
        """One horizon-1 mechdsl problem per episode (see `mechdsl.gym`)."""

        metadata = {"render_modes": []}

        def __init__(self, env: BatchedEnv, normalize: bool = False, out_of_bounds: str = "clip"):
            _check_adaptable(env, out_of_bounds)
            self.env, self.normalize, self.out_of_bounds = env, normalize, out_of_bounds
            self.observation_space, self.action_space = _spaces(gym, env, normalize)
            self._generator = torch.Generator(device=env.device)
            self._generator.seed()
            self._state: torch.Tensor | None = None

        def _observe(self, state: torch.Tensor) -> np.ndarray:
            return _numpy(observation(self.env, state) if self.normalize else state)[0]

        def reset(self, *, seed: int | None = None, options: dict | None = None):
            super().reset(seed=seed)
            if seed is not None:
                self._generator.manual_seed(int(seed))
            self._state = self.env.reset(1, self._generator)
            return self._observe(self._state), {}

        def step(self, action):
            if self._state is None:
                raise RuntimeError("call reset() before step(); every episode is one step")
            scored, self._state = self._state, None
            reward, info = _score(self.env, scored, np.asarray(action)[None], 1, self.out_of_bounds)
            info = {name: value[0].item() for name, value in info.items()}
            return self._observe(scored), float(reward[0]), True, False, info

    return MechanismEnv


def as_vector_env(env: BatchedEnv, num_envs: int, normalize: bool = False, out_of_bounds: str = "clip"):
    """`env` (a horizon-1 `BatchedEnv`) as a `gymnasium.vector.VectorEnv` of `num_envs`
    sub-envs; see the module docstring for spaces, seeding, bounds and autoreset."""
    return _vector_env_class()(env, num_envs, normalize, out_of_bounds)


def as_env(env: BatchedEnv, normalize: bool = False, out_of_bounds: str = "clip"):
    """`env` (a horizon-1 `BatchedEnv`) as a single `gymnasium.Env`: one problem per episode."""
    return _env_class()(env, normalize, out_of_bounds)


def package_name(package) -> str:
    """The spec name of a generated package (`MECHANISM` or `GAME` of its env module)."""
    module = sys.modules[package.Env.__module__]
    for attribute in ("MECHANISM", "GAME", "SCENARIO"):
        if hasattr(module, attribute):
            return str(getattr(module, attribute))
    return package.__name__.rsplit(".", 1)[-1]


def register(package, env_id: str | None = None) -> str:
    """Register a compiled package (e.g. `generated.two_period`) with Gymnasium and return
    its id (default `"mechdsl/<name>-v0"`), so `gymnasium.make(id, **kwargs)` builds
    `as_env(package.Env(**env_kwargs), normalize, out_of_bounds)`. Registering the same id
    again replaces the entry (Gymnasium warns), e.g. after recompiling."""
    gym = _gymnasium()
    env_id = env_id or f"{ID_PREFIX}{package_name(package)}-v0"

    def make(normalize: bool = False, out_of_bounds: str = "clip", **env_kwargs):
        return as_env(package.Env(**env_kwargs), normalize, out_of_bounds)

    gym.register(id=env_id, entry_point=make, disable_env_checker=False)
    return env_id


__all__ = ["INSTALL_HINT", "OUT_OF_BOUNDS", "as_env", "as_vector_env", "bounded_actions", "package_name", "register"]
