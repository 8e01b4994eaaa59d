"""The back end of the auction_design kind (`mechdsl.kinds.kind` lists its four functions).

The learned mechanisms of issue 31 (RochetNet menus, RegretNet, affine maximizers) are a
separate library (`mechdsl.auction_design.learned`) not yet wired to specs: each function
refuses with a `UnsupportedVerb` (exit 2) saying so. The kind does not list these verbs, so
the CLI refuses them before they get here."""

from __future__ import annotations

from pathlib import Path

from mechdsl.errors import UnsupportedVerb

NOT_YET = ("the learned mechanisms for auction_design specs are not available yet; "
           "`mechdsl derive` and `mechdsl solve` give Myerson's optimal single-item auction")


def compile(model, target: Path, *, source: str, force: bool = False) -> list[Path]:  # noqa: A001 - the back-end interface
    raise UnsupportedVerb(f"compile: {NOT_YET}")


def build_env(config, run_dir: Path, model, dtype=None):
    raise UnsupportedVerb(f"train: {NOT_YET}")


def train_run(config, run_dir: Path, model, *, resume, log, eval_states, curve_states, stages) -> dict:
    raise UnsupportedVerb(f"train: {NOT_YET}")


def evaluate_run(config, run_dir: Path, model, n_states: int, seed: int) -> dict:
    raise UnsupportedVerb(f"eval: {NOT_YET}")
