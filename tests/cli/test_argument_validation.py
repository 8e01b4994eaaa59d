"""Every verb's arguments are checked where they enter (issue 34): a bad number, device, --set
value or output folder is exit 2 with a message naming the argument and a hint, never an
internal error (exit 3) and never a value silently read as another (`--steps 0` training the
spec's steps, `--set K=1.5` checking K = 1). Each refusal comes before any training."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mechdsl.cli.arguments import MAX_SEED, check_writable_folder
from mechdsl.cli.main import build_parser, main
from mechdsl.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
TINY = str(ROOT / "tests" / "lang" / "tiny_contract.mech")
PROC = Path("/proc/self")  # a folder where nobody, root included, can make a new folder
needs_proc = pytest.mark.skipif(not PROC.is_dir(), reason="needs Linux /proc")


def refused(argv: list[str], capsys) -> str:
    """stderr of a call that must exit 2 (argparse's SystemExit or main's return value)."""
    try:
        code = main(argv)
    except SystemExit as exited:
        code = exited.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert "internal error" not in err and "Traceback" not in err, err
    return err


@pytest.fixture
def a_file(tmp_path, monkeypatch) -> Path:
    """A regular file; the working directory is tmp_path, so no default folder lands in the repo."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "notes.txt"
    path.write_text("not a folder\n", encoding="utf-8")
    return path


TRAIN = ["train", TINY, "--quiet", "--steps", "1", "--eval-states", "4"]

CASES = {
    # argparse types: the flag, what it must be, what was given, a hint
    "train --seed -1": (TRAIN + ["--seed", "-1"], ["--seed", "from 0 to 4294967295", "'-1'", "hint: e.g. --seed 0"]),
    "train --seed 2^32": (TRAIN + ["--seed", str(MAX_SEED + 1)], ["--seed", "'4294967296'"]),
    "train --steps -1": (["train", TINY, "--steps", "-1"], ["--steps", "whole number >= 1", "'-1'", "hint:"]),
    "train --steps 0": (["train", TINY, "--steps", "0"], ["--steps", "whole number >= 1", "'0'"]),
    "train --steps 2.5": (["train", TINY, "--steps", "2.5"], ["--steps", "'2.5'"]),
    "train --eval-states 0": (TRAIN + ["--eval-states", "0"], ["--eval-states", "held-out states", "'0'"]),
    "run --steps 0": (["run", TINY, "--steps", "0"], ["--steps", "'0'"]),
    "train --threads 0": (TRAIN + ["--threads", "0"], ["--threads", "whole number >= 1", "'0'"]),
    "solve --seed -1": (["solve", TINY, "--seed", "-1"], ["--seed", "'-1'"]),
    "solve --seed nan": (["solve", TINY, "--seed", "nan"], ["--seed", "'nan'"]),
    "eval --states 0": (["eval", "nowhere", "--states", "0"], ["--states", "'0'"]),
    "eval --seed -1": (["eval", "nowhere", "--seed", "-1"], ["--seed", "'-1'"]),
    "sweep --seeds 0": (["sweep", TINY, "--grid", "N=2", "--seeds", "0"], ["--seeds", "'0'"]),
    "sweep --steps 0": (["sweep", TINY, "--grid", "N=2", "--steps", "0"], ["--steps", "'0'"]),
    "sweep --workers 0": (["sweep", TINY, "--grid", "N=2", "--workers", "0"], ["--workers", "'0'"]),
    "sweep --cpus-per-trial 0": (["sweep", TINY, "--grid", "N=2", "--cpus-per-trial", "0"], ["--cpus-per-trial"]),
    "sweep --gpus-per-trial nan": (["sweep", TINY, "--grid", "N=2", "--gpus-per-trial", "nan"],
                                   ["--gpus-per-trial", "finite number >= 0", "'nan'"]),
    # checked when the command starts
    "train --algo nosuch": (TRAIN + ["--algo", "nosuch"], ["unknown algorithm 'nosuch'", "hint: --algo"]),
    "train --device banana": (TRAIN + ["--device", "banana"], ["--device banana", "not a torch device", "hint:"]),
    "sweep --device banana": (["sweep", TINY, "--grid", "N=2", "--device", "banana", "--dry-run"],
                              ["--device banana", "not a torch device"]),
    "sweep --grid N=nan": (["sweep", TINY, "--grid", "N=nan", "--dry-run"], ["--grid N", "'nan'", "hint: give finite"]),
    "sweep --grid N=inf": (["sweep", TINY, "--grid", "N=2,inf", "--dry-run"], ["--grid N", "'inf'"]),
    # --set values
    "check --set N=nan": (["check", TINY, "--set", "N=nan"], ["--set N", "'nan' is not a finite number", "hint:"]),
    "solve --set N=inf": (["solve", TINY, "--set", "N=inf"], ["--set N", "'inf' is not a finite number"]),
    "solve --set c=-inf": (["solve", TINY, "--set", "c=-inf"], ["--set c", "'-inf' is not a finite number"]),
    "check --set K=nan": (["check", TINY, "--set", "K=nan"], ["--set K", "not a finite number"]),
    "check --set N=1e13": (["check", TINY, "--set", "N=1e13"], ["--set N", "1e13", "limit of 1e12", "hint: "]),
    "solve --set c=1e300": (["solve", TINY, "--set", "c=1e300"], ["--set c", "limit of 1e12"]),
    "check --set K=1.5": (["check", TINY, "--set", "K=1.5"],
                          ["tiny_contract.mech:2:1: error: --set K=1.5: the size 'K' is not a whole number",
                           "hint: a size counts types"]),
    "train --set K=1.5": (TRAIN + ["--set", "K=1.5"], ["tiny_contract.mech:2:1", "not a whole number"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_argument_is_exit_2_with_a_message(case, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a refused run must not have made a folder anywhere
    argv, fragments = CASES[case]
    err = refused(argv, capsys)
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in:\n{err}"
    assert list(tmp_path.iterdir()) == []


FOLDER_CASES = {
    "train --out FILE/sub": lambda f: TRAIN + ["--out", str(f / "run")],
    "run --out FILE/sub": lambda f: ["run", TINY, "--steps", "1", "--eval-states", "4", "--out", str(f / "run")],
    "compile -o FILE/sub": lambda f: ["compile", TINY, "-o", str(f / "pkg" / "deeper")],
    "sweep --out FILE/sub": lambda f: ["sweep", TINY, "--grid", "N=2", "--dry-run", "--out", str(f / "sweep")],
}


@pytest.mark.parametrize("case", sorted(FOLDER_CASES))
def test_out_below_a_file_is_refused(case, a_file, capsys):
    err = refused(FOLDER_CASES[case](a_file), capsys)
    assert f"{a_file} is a file, not a folder" in err
    assert "hint: choose a folder" in err


@needs_proc
@pytest.mark.parametrize("argv", [TRAIN + ["--out", "/proc/self/x/y"], ["compile", TINY, "-o", "/proc/self/x/y"],
                                  ["sweep", TINY, "--grid", "N=2", "--dry-run", "--out", "/proc/self/x/y"]],
                         ids=["train", "compile", "sweep"])
def test_out_where_no_folder_can_be_made_is_refused(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    err = refused(argv, capsys)
    assert "/proc/self/x/y: cannot create a folder in /proc/self" in err
    assert "hint: choose a folder you can write" in err


def test_steps_0_no_longer_means_the_specs_steps(capsys):
    """`--steps 0` was falsy and trained the spec's 10 steps; now it is refused before anything."""
    err = refused(["train", TINY, "--steps", "0"], capsys)
    assert "argument --steps: the number of training steps must be a whole number >= 1, got '0'" in err


@pytest.mark.parametrize("argv, name, value", [
    (["train", TINY, "--steps", "1", "--seed", "0", "--eval-states", "1"], "steps", 1),
    (["train", TINY, "--seed", str(MAX_SEED)], "seed", MAX_SEED),
    (["train", TINY, "--steps", "1e3"], "steps", 1000),
    (["solve", TINY, "--seed", "0"], "seed", 0),
    (["eval", "somewhere", "--states", "1"], "states", 1),
    (["sweep", TINY, "--gpus-per-trial", "0.5"], "gpus_per_trial", 0.5),
    (["sweep", TINY, "--gpus-per-trial", "0"], "gpus_per_trial", 0.0),
])
def test_the_smallest_and_largest_good_values_are_accepted(argv, name, value):
    assert getattr(build_parser().parse_args(argv), name) == value


def test_a_writable_folder_passes_the_probe_and_nothing_is_left(tmp_path):
    target = tmp_path / "a" / "b"
    check_writable_folder(target, "--out")
    check_writable_folder(tmp_path, "--out")
    assert list(tmp_path.iterdir()) == []  # the probe folder was removed; `a` was never made


def test_an_existing_file_is_not_a_folder(tmp_path):
    path = tmp_path / "f"
    path.write_text("x", encoding="utf-8")
    with pytest.raises(UsageError, match=r"--out .*/f is a file, not a folder"):
        check_writable_folder(path, "--out")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_a_read_only_folder_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(UsageError, match="cannot create a folder in .*locked"):
            check_writable_folder(locked / "run", "--out")
    finally:
        locked.chmod(0o700)
