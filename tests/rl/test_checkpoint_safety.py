"""Checkpoints are untrusted input (issue 34): `load_checkpoint` reads tensors and plain data
only (`weights_only=True`), checks the layout the loop writes, and refuses what it cannot use
with a `CheckpointError` naming the file; `train(resume=True)` refuses a checkpoint that does
not fit the run or whose weights are not finite."""
from __future__ import annotations

import contextlib
import math
import pickle

import pytest
import torch
from toy_env import ScreeningContractEnv

from mechdsl.errors import MechdslError, UsageError
from mechdsl.rl.algorithms import ALGORITHMS
from mechdsl.rl.checkpoint import (CHECKPOINT_FIELDS, CHECKPOINT_NAME, CheckpointError, checkpoint_problem,
                                   load_checkpoint, non_finite_tensors, require_finite_actions, restoring,
                                   save_checkpoint)
from mechdsl.rl.loop import train

CPU = torch.device("cpu")
TINY = {"batch_size": 2, "hidden": (8,)}  # enough to make every replay agent update in 3 steps


class CreatesMarker:
    """Unpickling this calls open(marker, "w"): the file appears iff the pickle's code runs."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def tiny_run(tmp_path, algo: str = "amortized", steps: int = 3):
    hparams = {"hidden": (8,)} if algo in ("amortized", "ppo", "random") else TINY
    if algo == "random":
        hparams = None
    train(ScreeningContractEnv(), algo, steps=steps, seed=0, eval_every=steps, log="none", eval_states=8,
          hparams=hparams, out_dir=tmp_path)
    return tmp_path / CHECKPOINT_NAME


@pytest.fixture(scope="module")
def real_checkpoint(tmp_path_factory):
    """The state of a real 3-step amortized run (loaded safely) and its file."""
    path = tiny_run(tmp_path_factory.mktemp("run"))
    return load_checkpoint(path, CPU), path


# ------------------------------------------------------------------ what loads
def test_missing_checkpoint_is_none(tmp_path):
    assert load_checkpoint(tmp_path / CHECKPOINT_NAME, CPU) is None


@pytest.mark.parametrize("algo", list(ALGORITHMS))
def test_every_algorithms_checkpoint_loads_safely_and_unchanged(tmp_path, algo):
    path = tiny_run(tmp_path, algo)
    safe = load_checkpoint(path, CPU)
    trusted = torch.load(path, map_location=CPU, weights_only=False)  # our own file, written just now
    assert set(safe) == set(CHECKPOINT_FIELDS) == {
        "accum", "agent", "agent_generator", "algo", "buffer", "elapsed", "env_generator", "hparams", "rows",
        "seed", "step", "updates", "version"}
    assert safe["algo"] == algo and safe["step"] == 3 and safe["rows"] == trusted["rows"]
    assert torch.equal(safe["env_generator"], trusted["env_generator"])
    flat_safe, flat_trusted = _leaves(safe["agent"]), _leaves(trusted["agent"])
    assert flat_safe.keys() == flat_trusted.keys()
    for name, value in flat_safe.items():
        trusted_value = flat_trusted[name]
        assert torch.equal(value, trusted_value) if isinstance(value, torch.Tensor) else value == trusted_value


def _leaves(state, prefix="agent") -> dict:
    if isinstance(state, dict):
        return {k: v for key, value in state.items() for k, v in _leaves(value, f"{prefix}.{key}").items()}
    if isinstance(state, (list, tuple)):
        return {k: v for i, value in enumerate(state) for k, v in _leaves(value, f"{prefix}.{i}").items()}
    return {prefix: state}


# ------------------------------------------------------------------ what is refused, and why
def test_checkpoint_error_is_a_user_error_and_a_value_error():
    assert issubclass(CheckpointError, UsageError) and issubclass(CheckpointError, MechdslError)
    assert issubclass(CheckpointError, ValueError)  # what train() raised for a foreign checkpoint before


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_a_pickle_that_runs_code_is_refused_and_its_code_never_runs(tmp_path, writer):
    marker, path = tmp_path / "PWNED", tmp_path / CHECKPOINT_NAME
    payload = {"agent": CreatesMarker(marker)}
    with path.open("wb") as f:
        torch.save(payload, f) if writer == "torch.save" else pickle.dump(payload, f)
    with pytest.raises(CheckpointError, match="refusing to load it") as refused:
        load_checkpoint(path, CPU)
    assert str(path) in str(refused.value) and not marker.exists()
    assert "(global io.open)" in str(refused.value) or "(Unsupported operand" in str(refused.value)
    with contextlib.suppress(RuntimeError):  # a bare pickle runs, then fails torch's magic-number check
        torch.load(path, weights_only=False)  # the payload is armed: the load mechdsl used to do runs it
    assert marker.exists()


@pytest.mark.parametrize("content, reason", [
    (b"", "is empty"),
    (bytes(range(256)) * 16, "refusing to load it"),
    ("half", "is not a readable checkpoint"),
])
def test_unreadable_files_are_refused(tmp_path, real_checkpoint, content, reason):
    path = tmp_path / CHECKPOINT_NAME
    good = real_checkpoint[1].read_bytes()
    path.write_bytes(good[: len(good) // 2] if content == "half" else content)
    with pytest.raises(CheckpointError, match=reason) as refused:
        load_checkpoint(path, CPU)
    assert str(refused.value).startswith(str(path))


def _problem_after(state, change) -> str | None:
    state = dict(state)
    change(state)
    return checkpoint_problem(state)


def _nan_first_weight(state):
    policy = {name: tensor.clone() for name, tensor in state["agent"]["policy"].items()}
    first = next(iter(policy))
    policy[first][0, 0] = math.nan
    state["agent"] = {**state["agent"], "policy": policy}


@pytest.mark.parametrize("change, problem", [
    (lambda s: s.pop("agent"), "missing key(s) agent"),
    (lambda s: s.update(weights=s.pop("agent")), "missing key(s) agent; unknown key(s) weights"),
    (lambda s: s.update(step="3"), "step is a str"),
    (lambda s: s.update(seed=True), "seed is a bool"),
    (lambda s: s.update(buffer=[1, 2]), "buffer is a list"),
    (lambda s: s.update(version=2), "checkpoint version 2 is not supported"),
    (lambda s: s.update(updates=-1), "must not be negative"),
    (lambda s: s.update(rows=[{"step": "one"}]), "rows must be metric rows"),
    (lambda s: s.update(accum={"actor_loss": 1.0}), "accum must map each loss to (sum, count)"),
    (_nan_first_weight, "the checkpoint's weights hold non-finite values (agent.policy."),
])
def test_a_checkpoint_of_the_wrong_layout_names_what_is_wrong(real_checkpoint, change, problem):
    assert checkpoint_problem(real_checkpoint[0]) is None
    assert problem in _problem_after(real_checkpoint[0], change)


def test_checkpoint_problem_of_a_non_dict():
    assert checkpoint_problem([1, 2]) == "it holds a list, not a mechdsl checkpoint (a dict)"


def test_non_finite_tensors_names_every_nan_and_inf_and_skips_integer_tensors():
    state = {"net": {"w": torch.tensor([1.0, math.inf]), "b": torch.zeros(2), "mask": torch.ones(2, dtype=torch.bool)},
             "opt": {"state": {0: {"exp_avg": torch.tensor([math.nan])}}, "param_groups": [{"lr": 1e-3}]},
             "log_alpha": torch.tensor(-math.inf), "scale": math.nan}
    assert non_finite_tensors(state) == ["agent.net.w", "agent.opt.state.0.exp_avg", "agent.log_alpha", "agent.scale"]
    assert non_finite_tensors({"net": {"w": torch.ones(3)}, "steps": [1, 2]}) == []


def test_restoring_turns_a_misfit_into_a_checkpoint_error_naming_the_file(tmp_path):
    path = tmp_path / CHECKPOINT_NAME
    with pytest.raises(CheckpointError, match="does not fit this run: .*size mismatch for weight") as refused:
        with restoring(path):
            torch.nn.Linear(2, 3).load_state_dict(torch.nn.Linear(2, 4).state_dict())
    assert str(refused.value).startswith(str(path))
    with pytest.raises(CheckpointError, match="does not fit this run: missing 'buffer'"):
        with restoring(path):
            {}["buffer"]
    with pytest.raises(KeyboardInterrupt):  # only the restoring's own failures are converted
        with restoring(path):
            raise KeyboardInterrupt


class ConstantAgent:
    def __init__(self, value: float):
        self.value = value

    def act(self, obs, *, explore, generator):
        return torch.full((obs.shape[0], 2), self.value)


def test_require_finite_actions(tmp_path):
    obs = torch.zeros(5, 3)
    require_finite_actions(ConstantAgent(0.5), obs, tmp_path / CHECKPOINT_NAME)
    with pytest.raises(CheckpointError, match=r"weights give non-finite actions \(on 5 of 5 probe states\)"):
        require_finite_actions(ConstantAgent(math.inf), obs, tmp_path / CHECKPOINT_NAME)


# ------------------------------------------------------------------ resume refuses, never trains on it
def test_resume_refuses_a_checkpoint_with_nan_weights(tmp_path, real_checkpoint):
    state = dict(real_checkpoint[0])
    _nan_first_weight(state)
    save_checkpoint(tmp_path / CHECKPOINT_NAME, state)
    with pytest.raises(CheckpointError, match="non-finite"):
        train(ScreeningContractEnv(), "amortized", steps=6, seed=0, eval_every=3, log="none", eval_states=8,
              hparams={"hidden": (8,)}, out_dir=tmp_path, resume=True)


def test_resume_refuses_overflowing_weights_as_non_finite_actions(tmp_path, real_checkpoint):
    state = dict(real_checkpoint[0])
    # hidden units overflow to +inf; output weights of alternating sign then add inf and -inf: NaN
    policy = {name: torch.full_like(tensor, 3e38) for name, tensor in state["agent"]["policy"].items()}
    policy["net.2.weight"].view(-1)[1::2] = -3e38
    state["agent"] = {**state["agent"], "policy": policy}
    save_checkpoint(tmp_path / CHECKPOINT_NAME, state)
    assert checkpoint_problem(state) is None  # finite weights ...
    with pytest.raises(CheckpointError, match="weights give non-finite actions"):  # ... but infinite actions
        train(ScreeningContractEnv(), "amortized", steps=6, seed=0, eval_every=3, log="none", eval_states=8,
              hparams={"hidden": (8,)}, out_dir=tmp_path, resume=True)


def test_resume_refuses_weights_of_another_shape(tmp_path, real_checkpoint):
    save_checkpoint(tmp_path / CHECKPOINT_NAME, real_checkpoint[0])
    with pytest.raises(CheckpointError, match="does not fit this run") as refused:
        train(ScreeningContractEnv(), "amortized", steps=6, seed=0, eval_every=3, log="none", eval_states=8,
              hparams={"hidden": (16,)}, out_dir=tmp_path, resume=True)
    assert str(tmp_path / CHECKPOINT_NAME) in str(refused.value)
