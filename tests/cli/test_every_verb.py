"""Every verb on every bundled spec (specs/*.mech, examples/*.mech): a verb the spec's kind
supports works (exit 0); one it does not support is one line on stderr naming the verbs
the kind supports, exit 2. Never an internal error (exit 3) or a traceback.

Budgets are tiny (`--algo random --steps 1`, a handful of held-out states) and everything
is written under tmp_path (the working directory too, so no default folder lands in the
repo). The whole matrix takes minutes; one spec per kind (or one spec, for the training
verbs) is the fast path of each verb, the rest is marked slow."""

from __future__ import annotations

from pathlib import Path

import pytest

from mechdsl.cli.main import main
from mechdsl.kinds import KINDS, VERBS, kind_of_source

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted([*ROOT.glob("specs/*.mech"), *ROOT.glob("examples/*.mech")])
FAST_SPEC_OF_KIND = {"contract": "specs/static_contract.mech", "game": "specs/iot_offloading.mech",
                     "scenario": "specs/agent_migration.mech", "auction_design": "examples/auction_single_item.mech"}
TRAINING_FAST = "specs/static_contract.mech"  # training verbs: the fast path is this spec alone
ALSO_SLOW = {("solve", "examples/three_period.mech")}  # ~40 s of exact solves on a loaded 2-core machine
# A verb the kind supports that one spec refuses, with the reason (exit 2, the error and its hint):
# Myerson's derivation is for one item; the multi-item auctions are learned (train).
REFUSED_FOR_THE_SPEC = {(verb, f"examples/auction_{setting}.mech"): "Myerson's derivation is for one item"
                        for verb in ("derive", "solve") for setting in ("additive_1x2", "unit_demand_1x2", "additive_2x2")}
# The reserve-price env sells one item or additive items separately (compile works for additive_1x2 and
# additive_2x2); unit-demand auctions are learned without a package (train).
REFUSED_FOR_THE_SPEC[("compile", "examples/auction_unit_demand_1x2.mech")] = ("the reserve-price env (compile) sells "
                                                                              "one item, or several items with additive "
                                                                              "values")
TINY_RUN = ["--algo", "random", "--steps", "1", "--quiet"]
TINY_AUCTION_RUN = ["--steps", "1", "--quiet"]  # the spec's mechanism family, not RL's
EVAL_STATES = 4  # held-out states of train/run and of the eval of their run
# Each held-out state of a contract spec costs four exact solves in train/run (curve, final evaluation,
# solver timing, the report's reference contract) and one more in eval; three_period.mech's reference is a
# non-convex SLSQP solve of ~10 s, so its train + run + evals took 160-180 s with 4 states (-n 0, load 2).
EVAL_STATES_OF = {"examples/three_period.mech": 1}


def kind_of(spec: Path):
    return kind_of_source(spec.read_text(encoding="utf-8"), str(spec))


def relative(spec: Path) -> str:
    return spec.relative_to(ROOT).as_posix()


def cases(verbs: tuple[str, ...], fast: str):
    """(verb, spec) pairs; `fast` is "all", "kind" (one spec per kind) or "one"."""
    for verb in verbs:
        for spec in SPECS:
            kind = kind_of(spec)
            quick = (fast == "all" and (verb, relative(spec)) not in ALSO_SLOW or not kind.supports(verb)
                     or (fast == "kind" and relative(spec) == FAST_SPEC_OF_KIND[kind.name])
                     or (fast == "one" and relative(spec) == TRAINING_FAST))
            yield pytest.param(verb, spec, id=f"{verb}-{relative(spec)}",
                               marks=() if quick else pytest.mark.slow)


def eval_states(spec: Path) -> str:
    return str(EVAL_STATES_OF.get(relative(spec), EVAL_STATES))


def arguments(verb: str, spec: Path, tmp_path: Path) -> list[str]:
    tiny = [*(TINY_AUCTION_RUN if kind_of(spec).name == "auction_design" else TINY_RUN), "--eval-states",
            eval_states(spec)]
    return {
        "check": ["check", str(spec)],
        "fmt": ["fmt", str(spec)],  # prints the canonical text (--check exits 1 on a layout difference)
        "derive": ["derive", str(spec)],
        "solve": ["solve", str(spec), "--seed", "1"],
        "compile": ["compile", str(spec), "-o", str(tmp_path / "package")],
        "train": ["train", str(spec), "--out", str(tmp_path / "run"), *tiny],
        "run": ["run", str(spec), "--out", str(tmp_path / "run"), *tiny],
        "sweep": ["sweep", str(spec), "--grid", "collect_batch=4", "--algos", "random", "--seeds", "1",
                  "--steps", "1", "--eval-states", "4", "--workers", "1", "--out", str(tmp_path / "sweep")],
    }[verb]


def run_verb(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code != 3 and "Traceback" not in err and "internal error" not in err, err
    return code, out, err


def assert_refused(verb: str, spec: Path, code: int, err: str) -> None:
    """One positioned error at the spec's header statement (file:line:col, the line, carets)."""
    kind = kind_of(spec)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 3, err
    assert f": error: {verb}: " in lines[0] and f" {kind.name} spec (" in lines[0]
    assert lines[0].startswith(f"{spec}:") and kind.declaration in lines[1] and "^" in lines[2], err
    supported = lines[0].split(f"{kind.name} specs support ")[1].split("; ")[0].split(", ")
    assert supported == [v for v in VERBS if kind.supports(v)] and verb not in supported


@pytest.fixture(autouse=True)
def _work_in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a default output folder (generated/, runs/) lands here, not in the repo


@pytest.mark.parametrize(("verb", "spec"), [*cases(("check", "fmt", "derive", "solve"), "all"),
                                            *cases(("compile",), "kind")])
def test_spec_verbs(verb, spec, tmp_path, capsys):
    code, out, err = run_verb(arguments(verb, spec, tmp_path), capsys)
    if not kind_of(spec).supports(verb):
        assert_refused(verb, spec, code, err)
        return
    if (verb, relative(spec)) in REFUSED_FOR_THE_SPEC:
        assert code == 2 and REFUSED_FOR_THE_SPEC[verb, relative(spec)] in err and "hint: " in err, err
        return
    assert code == 0, err
    if verb == "compile":
        assert (tmp_path / "package" / "env.py").is_file() and "compiled" in out
    else:
        assert out.strip()


@pytest.mark.parametrize(("verb", "spec"), [*cases(("train", "run"), "one")])
def test_training_verbs_and_eval_of_their_run(verb, spec, tmp_path, capsys):
    code, out, err = run_verb(arguments(verb, spec, tmp_path), capsys)
    if not kind_of(spec).supports(verb):
        assert_refused(verb, spec, code, err)
        return
    assert code == 0, err
    assert "violation rate" in out and (tmp_path / "run" / "report.md").is_file()
    code, out, err = run_verb(["eval", str(tmp_path / "run"), "--states", eval_states(spec), "--json"], capsys)
    assert code == 0, err
    assert '"objective"' in out and '"violation_rate"' in out


@pytest.mark.parametrize("spec", [pytest.param(s, id=relative(s)) for s in SPECS])
def test_sweep_lists_its_trials(spec, tmp_path, capsys):
    code, out, err = run_verb(arguments("sweep", spec, tmp_path) + ["--dry-run"], capsys)
    if not kind_of(spec).supports("sweep"):
        assert_refused("sweep", spec, code, err)
        return
    assert code == 0, err
    assert out.strip().splitlines()[-1].startswith("1 trials")


@pytest.mark.slow
def test_sweep_trains_a_trial(tmp_path, capsys):
    spec = ROOT / TRAINING_FAST
    code, out, err = run_verb(arguments("sweep", spec, tmp_path), capsys)
    assert code == 0, err
    assert "[1/1]" in out and (tmp_path / "sweep").is_dir()


def test_every_kind_and_verb_is_covered():
    """The matrix reaches every verb, and every kind through at least one bundled spec."""
    assert {kind_of(s).name for s in SPECS} == set(KINDS)
    covered = {"check", "fmt", "derive", "solve", "compile", "train", "run", "eval", "sweep"}
    assert covered == set(VERBS)
