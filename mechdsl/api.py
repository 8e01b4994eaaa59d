"""The Python API behind `mechdsl.load / derive / solve / compile / train` and the state builders.

Each function is one stage of the pipeline, called as the CLI calls it:

    model = mechdsl.load("specs/two_period.mech")          # parse + check  (mechdsl check)
    derivation = mechdsl.derive(model)                       # reduce         (mechdsl derive)
    state = mechdsl.sample_state(model, seed=0)              # one state      (as mechdsl solve --seed 0)
    solution = mechdsl.solve(model, state)                   # exact optimum  (mechdsl solve)
    mechdsl.compile(model, "generated/two_period")           # env package    (mechdsl compile)
    run = mechdsl.train("specs/two_period.mech", steps=300)  # train + report (mechdsl train)

A *state* is a flat dict `{entry name: float}` over every constant, random parameter, type
entry (`"theta1[0]"`), probability entry (`"p2[1, 0]"`) and derived quantity.
`state_from_json` builds one from the nested shape `mechdsl solve --json` prints
(`{"theta1": [16.2, 27.9], "p1": [0.4, 0.6], "sigma": 0.7, ...}`). User mistakes raise
`StateError` (a `ValueError`) or `mechdsl.lang.SpecError`, never a bare `KeyError`.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from mechdsl.tolerances import PROBABILITY_TOLERANCE


class StateError(ValueError):
    """A state that does not fit the model (missing, unknown or malformed entries)."""


def load(path: str | Path, overrides: Mapping[str, float] | None = None):
    """Parse and check a `.mech` file: the checked model (`mechdsl.model.Model` for a
    contract, a game or scenario model for `game` / `scenario` specs)."""
    from mechdsl.lang import load_file

    return load_file(path, dict(overrides) if overrides else None)


def derive(model):
    """The symbolic derivation of a contract (`mechdsl.reduce.Derivation`): least-payment
    rules, binding and residual constraints, the single-crossing verdict, timed steps."""
    from mechdsl.reduce import derive as derive_contract

    _require_contract(model, "derive")
    return derive_contract(model)


def sample_state(model, seed: int = 0, **pinned: float) -> dict[str, float]:
    """One state drawn from the spec's distributions with NumPy's `default_rng(seed)` (types
    sorted ascending), the state `mechdsl solve --seed SEED` solves; `pinned` fixes entries
    by name (`sample_state(model, 0, sigma=0.7)`). For a game spec, the game's state."""
    if _kind(model) == "game":
        from mechdsl.games.state import sample_state as sample_game_state

        return {symbol.name: value for symbol, value in
                sample_game_state(model, np.random.default_rng(seed)).items()}
    from mechdsl.solve.state import sample_states, state_at

    _require_contract(model, "sample_state")
    known = {*model.randoms, *(s.name for s in model.state_symbols())}
    unknown = sorted(set(pinned) - known)
    if unknown:
        raise StateError(f"{unknown[0]} is not a random parameter or state entry of {model.name}; "
                         f"state entries: {', '.join(sorted(known))}")
    return state_at(sample_states(model, 1, np.random.default_rng(seed), fixed=pinned), 0)


def state_from_json(model, obj: Mapping[str, Any]) -> dict[str, float]:
    """The flat state of `obj`, which is the JSON `mechdsl solve --json` prints (its "state"
    part, or the whole output), one of `mechdsl eval --json`'s "states", or a flat
    `{"theta[0]": ...}` dict.

    Random parameters, type vectors and random probability tables are required (nested lists
    of the declared shape); constants and fixed probabilities may be omitted but must equal
    the model's if given; derived quantities are recomputed from the rest (given values are
    ignored). Types must be ascending and every probability row must sum to 1 (1e-6)."""
    from mechdsl.solve.state import with_derived

    _require_contract(model, "state_from_json")
    if not isinstance(obj, Mapping):
        raise StateError(f"a state is a JSON object, got {type(obj).__name__}")
    if "state" in obj and isinstance(obj["state"], Mapping):
        obj = obj["state"]
    flat = {k: v for k, v in obj.items() if "[" in k}
    nested = {k: v for k, v in obj.items() if "[" not in k}
    known = {*model.constants, *model.randoms, *model.derived, *model.types, *model.probs}
    unknown = sorted(set(nested) - known) + sorted(set(flat) - {s.name for s in model.state_symbols()})
    if unknown:
        raise StateError(f"{unknown[0]!r} is not an entry of {model.name}; expected: {', '.join(sorted(known))}")
    values: dict[str, np.ndarray] = {}
    for name, constant in model.constants.items():
        given = nested.get(name, constant.value)
        if not np.isclose(_scalar(name, given), constant.value, rtol=1e-12, atol=0.0):
            raise StateError(f"{name} is the constant {constant.value:g} in {model.name}, the JSON has {given}; "
                             f"load the model with overrides={{'{name}': {given}}} instead")
        values[name] = np.array([constant.value])
    for name in model.randoms:
        if name not in nested:
            raise StateError(f"missing random parameter {name!r}")
        values[name] = np.array([_scalar(name, nested[name])])
    for entity in [*model.types.values(), *model.probs.values()]:
        entries = _entries(entity, nested, flat)
        _check_entity(model, entity, entries)
        for symbol, value in zip(entity.symbols(), entries.ravel()):
            values[symbol.name] = np.array([float(value)])
    return {name: float(v[0]) for name, v in with_derived(model, values).items()}


def solve(model, state: Mapping[str, Any] | None = None, *, seed: int = 0):
    """The exact optimum of a contract for one state (`mechdsl.solve.exact.Solution`:
    `.contract`, `.arrays(model)`, `.objective`, `.certificate`). `state` is a flat state
    (`sample_state`) or the JSON shape (`state_from_json`); None draws `sample_state(model,
    seed)`. A game spec gets its certified Stackelberg equilibrium for `seed`."""
    if _kind(model) == "game":
        from mechdsl.games.solve import solve_game

        if state is not None:
            raise StateError("a game is solved for a seed (solve(model, seed=3)), not for a given state")
        return solve_game(model, seed)
    from mechdsl.solve.exact import solve as solve_contract

    _require_contract(model, "solve")
    if state is None:
        state = sample_state(model, seed)
    elif not _is_flat_state(model, state):
        state = state_from_json(model, state)
    return solve_contract(model, dict(state))


def rendered_package(model, source: str | None = None) -> dict[str, str]:
    """{file name: text} of the generated package of any spec kind (rendered in a
    temporary folder; nothing is written where the user looks)."""
    from mechdsl.kinds import kind_of_model

    source = source if source is not None else Path(model.path).read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="mechdsl-compile-") as tmp:
        staged = Path(tmp) / "package"
        kind_of_model(model).pipeline().compile(model, staged, source=source)
        return {path.name: path.read_text(encoding="utf-8") for path in sorted(staged.iterdir())}


def compile(model, out: str | Path | None = None, *, force: bool = False, replace_user_files: bool = False,
            source: str | None = None) -> list[Path]:
    """Write the batched-env package into `out` (default `generated/<name>/`) with the rules
    of `mechdsl compile` (`mechdsl.codegen.generate.write_package`): a folder mechdsl did not
    create needs `force`, and a file of the user's with a generated name is replaced only with
    `replace_user_files`; the new package replaces the old one all at once
    (`mechdsl.codegen.package_write`). Returns the paths written."""
    from mechdsl.codegen.package_write import check_target, recover_interrupted_write, render_beside, write_package
    from mechdsl.kinds import kind_of_model

    target = Path(out) if out is not None else Path("generated") / model.name
    source = source if source is not None else Path(model.path).read_text(encoding="utf-8")
    recover_interrupted_write(target)
    check_target(target, force)
    files = render_beside(target, lambda folder: kind_of_model(model).pipeline().compile(model, folder, source=source))
    return write_package(target, lambda: files, force=force, replace_unlisted=replace_user_files)


@dataclass(frozen=True)
class TrainedRun:
    """A finished run: its folder (report.md, checkpoint.pt, ...), the held-out evaluation
    (`optimality_ratio`, `mean_utility`, `violation_rate`, ...) and seconds per stage."""

    run_dir: Path
    evaluation: dict
    stage_seconds: dict[str, float]


def train(spec, *, algo: str | None = None, steps: int | None = None, seed: int | None = None,
          out: str | Path | None = None, resume: bool = False, overwrite: bool = False,
          overrides: Mapping[str, float] | None = None, device: str = "cpu", preset: str | None = None,
          eval_states: int = 1000, log: str = "none") -> TrainedRun:
    """`mechdsl train` from Python: train `algo` (default: the spec's) on the spec, evaluate it
    against the exact optimum and write the run folder. `spec` is a path or a loaded model
    (its sizes and constants are kept). Run folders follow `mechdsl.rl.runs.plan_run_folder`:
    an existing folder is never replaced (`resume` continues it, `overwrite` moves it to
    `DIR.old-N` first; the default folder gets a fresh suffix). `log`: "none", "plain"
    (lines on stderr) or "rich" (a bar on a terminal)."""
    from mechdsl.lang import load_source
    from mechdsl.kinds.runs import configure_run, train_run
    from mechdsl.rl.runs import check_resumable, default_run_dir, plan_run_folder
    from mechdsl.rl.stages import StageClock

    if isinstance(spec, (str, Path)):
        path, overrides = str(spec), dict(overrides or {})
        source = Path(path).read_text(encoding="utf-8")
    else:
        path = spec.path
        source = Path(path).read_text(encoding="utf-8")
        overrides = {**_overrides_of(spec, load_source(source, path)), **dict(overrides or {})}
    model = load_source(source, path, overrides or None)
    config = configure_run(path, source, model, algo=algo, steps=steps, seed=seed, device=device, preset=preset,
                           overrides=overrides)
    folder = plan_run_folder(Path(out) if out is not None else None, default_run_dir(config, model.name),
                             resume=resume, overwrite=overwrite)
    check_resumable(config, folder)
    folder.prepare()
    stages = StageClock()
    evaluation = train_run(config, folder.path, resume=folder.resume, log=log, eval_states=eval_states,
                           stages=stages)
    return TrainedRun(folder.path, evaluation, dict(stages.seconds))


# ------------------------------------------------------------------ helpers
def _kind(model) -> str:
    """The name of the model's spec kind ("contract", "game", "scenario")."""
    from mechdsl.kinds import kind_of_model

    return kind_of_model(model).name


def _require_contract(model, what: str) -> None:
    if _kind(model) != "contract":
        raise TypeError(f"mechdsl.{what} takes a contract model (a `mechanism` spec), got {type(model).__name__}")


def _scalar(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StateError(f"{name} must be a number, got {value!r}")
    return float(value)


def _entries(entity, nested: Mapping[str, Any], flat: Mapping[str, Any]) -> np.ndarray:
    """The entries of a type vector or probability table, from the nested or the flat form;
    an omitted fixed probability table takes the spec's values."""
    names = [s.name for s in entity.symbols()]
    if entity.name in nested:
        try:
            array = np.asarray(nested[entity.name], dtype=float)
        except (TypeError, ValueError):
            raise StateError(f"{entity.name} must be a list of numbers of shape {list(entity.shape)}") from None
        if array.shape != tuple(entity.shape):
            raise StateError(f"{entity.name} must have shape {list(entity.shape)}, got {list(array.shape)}")
        return array
    if all(n in flat for n in names):
        return np.asarray([_scalar(n, flat[n]) for n in names], dtype=float).reshape(entity.shape)
    if getattr(entity, "values", None) is not None:
        return np.asarray(entity.values, dtype=float).reshape(entity.shape)
    raise StateError(f"missing {entity.name!r} (shape {list(entity.shape)})")


def _check_entity(model, entity, entries: np.ndarray) -> None:
    if not np.all(np.isfinite(entries)):
        raise StateError(f"{entity.name} has a non-finite entry")
    if entity.name in model.types:
        if np.any(np.diff(entries) < 0):
            raise StateError(f"type vector {entity.name} must be ascending (lowest type first), got {entries.tolist()}")
        return
    if getattr(entity, "values", None) is not None and not np.allclose(entries.ravel(), entity.values, atol=1e-12):
        raise StateError(f"{entity.name} is fixed to {list(entity.values)} in {model.name}, the JSON has "
                         f"{entries.ravel().tolist()}")
    rows = entries.reshape(-1, entity.shape[-1])
    if np.any(rows < 0) or np.any(np.abs(rows.sum(axis=1) - 1.0) > PROBABILITY_TOLERANCE):
        raise StateError(f"every row of {entity.name} must be non-negative and sum to 1, got {entries.tolist()}")


def _is_flat_state(model, state: Mapping[str, Any]) -> bool:
    """A complete flat state (`sample_state`'s): every state symbol, constant and derived
    quantity by name, numbers only."""
    names = [*(s.name for s in model.state_symbols()), *model.constants, *model.derived]
    return (all(name in state for name in names)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in state.values()))


def _overrides_of(model, base) -> dict[str, float]:
    """The sizes and constants in which `model` differs from the spec's own model `base`."""
    changed = {name: float(v) for name, v in model.sizes.items() if base.sizes.get(name) != v}
    changed.update({name: c.value for name, c in model.constants.items()
                    if name not in base.constants or base.constants[name].value != c.value})
    return changed


__all__ = ["StateError", "TrainedRun", "compile", "derive", "load", "rendered_package", "sample_state", "solve",
           "state_from_json", "train"]
