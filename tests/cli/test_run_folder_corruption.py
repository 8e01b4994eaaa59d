"""A run folder is untrusted input (issue 34): `mechdsl eval RUN` and `mechdsl train ... --resume`
on a folder whose checkpoint.pt or run.json is malicious, truncated, empty, random, of the
wrong layout, from another run, with non-finite weights, or names a device this machine lacks
exit 2 with a message naming the file, never 3 ("internal error"), and never run a pickle's code.

One tiny run (2 amortized steps on static_contract.mech) is trained once per module and copied
into each test's folder before it is damaged."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from mechdsl.cli.main import main
from mechdsl.rl.checkpoint import CHECKPOINT_NAME
from mechdsl.rl.runs import RUN_FILE

ROOT = Path(__file__).resolve().parents[2]
SPEC = str(ROOT / "specs" / "static_contract.mech")
TRAIN = ["--algo", "amortized", "--eval-states", "4", "--quiet"]
COMMANDS = ("eval", "resume")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("trained") / "run"
    assert main(["train", SPEC, *TRAIN, "--steps", "2", "--out", str(run)]) == 0
    return run


@pytest.fixture
def run(trained, tmp_path) -> Path:
    """A fresh copy of the trained run folder, for one test to damage."""
    return Path(shutil.copytree(trained, tmp_path / "run"))


def invoke(command: str, run: Path, capsys, *extra: str) -> tuple[int, str]:
    """(exit code, stderr) of `mechdsl eval RUN` or `mechdsl train SPEC --out RUN --resume`."""
    capsys.readouterr()
    if command == "eval":
        code = main(["eval", str(run), "--states", "4", *extra])
    else:
        code = main(["train", SPEC, *TRAIN, "--steps", "3", "--out", str(run), "--resume", *extra])
    return code, capsys.readouterr().err


def assert_refused(code: int, err: str, path: Path, *reason: str) -> None:
    assert code == 2, err
    assert "internal error" not in err
    assert str(path) in err, err
    for words in reason:
        assert words in err, err


def edit_checkpoint(run: Path, change) -> Path:
    """Load the run's checkpoint, `change(state)` it in place and save it back."""
    path = run / CHECKPOINT_NAME
    state = torch.load(path, weights_only=True)
    change(state)
    torch.save(state, path)
    return path


def test_the_trained_run_evaluates_and_resumes(run, capsys):
    assert invoke("eval", run, capsys)[0] == 0
    assert invoke("resume", run, capsys)[0] == 0
    assert (run / "metrics.csv").read_text().strip().splitlines()[-1].split(",")[0] == "3"


# ------------------------------------------------------------------ checkpoint.pt
class CreatesMarker:
    """Unpickling this calls open(marker, "w"): the file appears iff the pickle's code runs."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_malicious_checkpoint_is_refused_and_never_runs(run, tmp_path, capsys, command):
    marker, path = tmp_path / "PWNED", run / CHECKPOINT_NAME
    state = torch.load(path, weights_only=True)
    state["agent"] = CreatesMarker(marker)
    torch.save(state, path)
    assert_refused(*invoke(command, run, capsys), path, "refusing to load it", "global io.open")
    assert not marker.exists()


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("damage, reason", [
    (lambda data: data[: len(data) // 2], "is not a readable checkpoint"),
    (lambda data: b"", "is empty"),
    (lambda data: bytes((7 * i + 3) % 256 for i in range(4096)), "refusing to load it"),
], ids=["truncated", "empty", "random-bytes"])
def test_an_unreadable_checkpoint_is_refused(run, capsys, command, damage, reason):
    path, saved = run / CHECKPOINT_NAME, (run / RUN_FILE).read_text()
    path.write_bytes(damage(path.read_bytes()))
    assert_refused(*invoke(command, run, capsys), path, reason)
    assert (run / RUN_FILE).read_text() == saved  # a refused --resume (3 steps, not 2) leaves run.json as it was


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("change, reason", [
    (lambda s: s.pop("rows"), "missing key(s) rows"),
    (lambda s: s.update(weights=s.pop("agent")), "unknown key(s) weights"),
    (lambda s: s.update(step="2"), "step is a str"),
    (lambda s: s.update(version=99), "checkpoint version 99 is not supported"),
], ids=["missing-key", "renamed-key", "wrong-type", "version"])
def test_a_checkpoint_of_the_wrong_layout_is_refused(run, capsys, command, change, reason):
    path = edit_checkpoint(run, change)
    assert_refused(*invoke(command, run, capsys), path, reason)


@pytest.mark.parametrize("command, reason", [("eval", "holds a bogus agent, but run.json says amortized"),
                                             ("resume", "algorithm 'bogus' != 'amortized'")])
def test_a_checkpoint_of_an_unknown_algorithm_is_refused(run, capsys, command, reason):
    path = edit_checkpoint(run, lambda s: s.update(algo="bogus"))
    assert_refused(*invoke(command, run, capsys), path, reason)


@pytest.mark.parametrize("command", COMMANDS)
def test_weights_of_another_shape_are_refused(run, capsys, command):
    def widen(state):
        policy = state["agent"]["policy"]
        first = next(iter(policy))
        policy[first] = torch.zeros(policy[first].shape[0] + 1, *policy[first].shape[1:])

    path = edit_checkpoint(run, widen)
    assert_refused(*invoke(command, run, capsys), path, "does not fit this run", "size mismatch")


@pytest.mark.parametrize("command", COMMANDS)
def test_nan_weights_are_refused_as_non_finite_not_evaluated_or_trained(run, capsys, command):
    def poison(state):
        policy = state["agent"]["policy"]
        policy[next(iter(policy))].view(-1)[0] = math.nan

    path = edit_checkpoint(run, poison)
    code, err = invoke(command, run, capsys)
    assert_refused(code, err, path, "non-finite values (agent.policy.", "would give non-finite actions")
    assert "training diverged" not in err


# ------------------------------------------------------------------ run.json (read by eval)
def edit_run_file(run: Path, change) -> Path:
    path = run / RUN_FILE
    raw = json.loads(path.read_text())
    change(raw)
    path.write_text(json.dumps(raw))
    return path


def test_a_truncated_run_file_is_refused(run, capsys):
    path = run / RUN_FILE
    path.write_text(path.read_text()[:40])
    assert_refused(*invoke("eval", run, capsys), path, "is not readable JSON")


@pytest.mark.parametrize("change, reason", [
    (lambda r: r.update(learning_rate=0.1), "unknown key(s) learning_rate"),
    (lambda r: r.pop("algo"), "missing key(s) algo"),
    (lambda r: r.update(seed="0"), 'seed must be int, not "0"'),
    (lambda r: r.update(algo="bogus"), "unknown algorithm 'bogus'"),
    (lambda r: r.update(preset="fast"), "unknown preset 'fast'"),
    (lambda r: r.update(hparams={"hiden": [8]}), "unknown hyperparameter(s) 'hiden' (did you mean 'hidden'?)"),
    (lambda r: r.update(device="gpu"), "device 'gpu' is not a torch device"),
], ids=["unknown-key", "missing-key", "wrong-type", "unknown-algorithm", "unknown-preset", "unknown-hparam",
        "bad-device"])
def test_a_run_file_of_the_wrong_layout_is_refused(run, capsys, change, reason):
    path = edit_run_file(run, change)
    assert_refused(*invoke("eval", run, capsys), path, reason)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_cuda_run_is_refused_without_cuda(run, capsys):
    path = edit_run_file(run, lambda r: r.update(device="cuda"))
    assert_refused(*invoke("eval", run, capsys), path, "device 'cuda', but CUDA is not available")


# ------------------------------------------------------------------ the command line of --resume
def test_resume_with_an_unknown_algorithm_is_a_usage_error(run, capsys):
    code, err = main(["train", SPEC, "--algo", "bogus", "--steps", "3", "--out", str(run), "--resume"]), \
        capsys.readouterr().err
    assert code == 2 and "unknown algorithm 'bogus'" in err and "internal error" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_resume_on_cuda_without_cuda_is_a_usage_error(run, capsys):
    code, err = invoke("resume", run, capsys, "--device", "cuda")
    assert code == 2 and "CUDA is not available" in err and "internal error" not in err
