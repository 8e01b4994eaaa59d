"""A sweep's grid: `--grid NAME=V1,V2` choices -> the trials (one training run each).

A grid name is one of
  * a spec constant or size (`param N = 12 in {3, 6, 12, 18}`, `size K = 2 in {2, 3}`): passed as an
    override, so the spec is checked again with that value before anything trains;
  * a hyperparameter of every algorithm of the sweep (`prune_rate`, `actor_lr`, ...): merged into
    the run's hyperparameters on top of the spec's train block.
`--grid N` with no values takes the values the spec declares after `in {...}`.

Trials = product(grid) x algorithms x seeds, in that order; the trial id names the grid point,
the algorithm and the seed (`N=6,prune_rate=0.3,algo=edmsac,seed=1`) and is the trial's folder.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from mechdsl.errors import UsageError
from mechdsl.lang.train_schema import ALGORITHM_HYPERPARAMETERS, ALGORITHMS
from mechdsl.rl.runs import RUN_FILE, RunConfig, configure

EVALUATION_FILE = "evaluation.json"


@dataclass(frozen=True)
class GridAxis:
    """One swept name: `kind` is "constant", "size" or "hparam"."""
    name: str
    kind: str
    values: tuple


@dataclass(frozen=True)
class Trial:
    """One training run of the sweep: its grid point, configuration and folder name."""
    trial_id: str
    point: tuple[tuple[str, object], ...]   # (grid name, value) in grid order
    config: RunConfig
    eval_states: int

    @property
    def algo(self) -> str:
        return self.config.algo

    @property
    def seed(self) -> int:
        return self.config.seed


def format_value(value) -> str:
    """Short, deterministic text of a grid value (1e-3 and 0.001 give the same trial id)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return format(value, "g")
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    return str(value)


def sanitize(text: str) -> str:
    """A file-name-safe trial id: keeps letters, digits and `._,=+-`."""
    return re.sub(r"[^A-Za-z0-9._,=+-]", "_", text)


def trial_id(point, algo: str, seed: int) -> str:
    parts = [f"{name}={format_value(value)}" for name, value in point]
    return sanitize(",".join(parts + [f"algo={algo}", f"seed={seed}"]))


def _parse_value(axis_name: str, text: str, expected) -> object:
    text = text.strip()
    try:
        if expected is bool:
            if text.lower() in ("true", "1", "yes"):
                return True
            if text.lower() in ("false", "0", "no"):
                return False
            raise ValueError
        if expected is int:
            number = float(text)
            if not number.is_integer():
                raise ValueError
            return int(number)
        if expected is float:
            number = float(text)
            if not math.isfinite(number):  # nan and inf pass every range check
                raise ValueError
            return number
        if expected is str:
            return text
        if expected is tuple:  # hidden widths, written 256x256
            return tuple(int(part) for part in text.split("x"))
    except ValueError:
        pass
    name_of = getattr(expected, "__name__", str(expected))
    raise UsageError(f"--grid {axis_name}: {text!r} is not a valid {name_of}",
                     hint={tuple: "hidden widths are written like 64x64",
                           float: "give finite numbers, e.g. 0.5 (nan and inf are refused)"}.get(expected))


def parse_axes(pairs: list[str], model, algos: list[str]) -> list[GridAxis]:
    """`--grid` arguments -> typed axes; unknown names and bad values are `UsageError`s."""
    hparam_types: dict[str, type] = {}
    for algo in algos:
        hparam_types.update(ALGORITHM_HYPERPARAMETERS[algo])
    known = sorted(set(model.constants) | set(model.sizes) | set(hparam_types))
    axes: list[GridAxis] = []
    for pair in pairs:
        name, sep, values_text = pair.partition("=")
        name = name.strip()
        if any(axis.name == name for axis in axes):
            raise UsageError(f"--grid {name} is given twice")
        if name in model.sizes or name in model.constants:
            kind, expected = ("size", int) if name in model.sizes else ("constant", float)
            if name in model.constants and model.constants[name].shape != ():
                raise UsageError(f"--grid {name}: only scalar constants can be swept")
            if not sep:
                declared = model.size_sweeps.get(name) if kind == "size" else model.constants[name].sweep
                if not declared:
                    raise UsageError(f"--grid {name}: the spec declares no values for {name}",
                                     hint=f"give them (--grid {name}=V1,V2) or declare `... {name} = v in {{...}}`")
                axes.append(GridAxis(name, kind, tuple(expected(v) for v in declared)))
                continue
        elif name in hparam_types:
            kind, expected = "hparam", hparam_types[name]
            if expected not in (bool, int, float, str):
                expected = tuple
            missing = [a for a in algos if name not in ALGORITHM_HYPERPARAMETERS[a]]
            if missing:
                raise UsageError(f"--grid {name}: not a hyperparameter of {', '.join(missing)}",
                                 hint="sweep it with the algorithms that have it (--algos)")
            if not sep:
                raise UsageError(f"--grid {name}: give the values, e.g. --grid {name}=V1,V2")
        else:
            owners = [a for a, table in ALGORITHM_HYPERPARAMETERS.items() if name in table]
            if owners:
                raise UsageError(f"--grid {name}: a hyperparameter of {', '.join(owners)}, not of {', '.join(algos)}",
                                 hint=f"choose algorithms that have it, e.g. --algos {owners[0]}")
            close = difflib.get_close_matches(name, known, n=1)
            raise UsageError(f"--grid {name}: not a constant, size or hyperparameter of {', '.join(algos)}"
                             + (f"; did you mean {close[0]!r}?" if close else ""),
                             hint="sweepable names: " + ", ".join(known))
        values = tuple(_parse_value(name, v, expected) for v in values_text.split(",") if v.strip())
        if not values:
            raise UsageError(f"--grid {name}= has no values")
        axes.append(GridAxis(name, kind, values))
    return axes


def parse_algos(text: str | None, model) -> list[str]:
    algos = [a.strip() for a in (text or str(model.train.get("algorithm", "edmsac"))).split(",") if a.strip()]
    for algo in algos:
        if algo not in ALGORITHMS:
            close = difflib.get_close_matches(algo, ALGORITHMS, n=1)
            raise UsageError(f"--algos: unknown algorithm {algo!r}" + (f"; did you mean {close[0]!r}?" if close else ""),
                             hint="known: " + ", ".join(ALGORITHMS))
    return algos


def expand(spec_path: str, source: str, load, axes: list[GridAxis], algos: list[str], seeds: list[int], *,
           steps: int | None, device: str, preset: str | None, eval_states: int,
           base_overrides: dict | None = None) -> list[Trial]:
    """All trials, in grid order. `load(overrides)` checks the spec with a point's overrides
    (raising `SpecError` for values the spec rejects); each distinct override set is checked once."""
    from mechdsl.rl import HyperparameterError, resolve_hparams

    models: dict[tuple, object] = {}
    trials = []
    for values in itertools.product(*(axis.values for axis in axes)):
        point = tuple((axis.name, value) for axis, value in zip(axes, values))
        overrides = dict(base_overrides or {})
        overrides.update({a.name: float(v) for a, v in zip(axes, values) if a.kind != "hparam"})
        grid_hparams = {a.name: v for a, v in zip(axes, values) if a.kind == "hparam"}
        key = tuple(sorted(overrides.items()))
        if key not in models:
            models[key] = load(overrides)
        for algo in algos:
            for seed in seeds:
                config = configure(spec_path, source, models[key], algo=algo, steps=steps, seed=seed,
                                   device=device, preset=preset, overrides=overrides)
                config = dataclasses.replace(config, hparams={**config.hparams, **grid_hparams})
                try:
                    resolve_hparams(config.algo, config.preset, config.hparams)
                except HyperparameterError as error:
                    raise UsageError(f"trial {trial_id(point, algo, seed)}: {error}") from None
                trials.append(Trial(trial_id(point, algo, seed), point, config, eval_states))
    ids = [t.trial_id for t in trials]
    if len(set(ids)) != len(ids):
        raise UsageError("two grid points give the same trial id; make the --grid values distinct")
    return trials


def is_finished(trial: Trial, out: Path) -> bool:
    """True when the trial's folder already holds an evaluation (the sweep resumes past it).
    A finished folder trained with another configuration is a `UsageError`, not a silent reuse."""
    folder = Path(out) / trial.trial_id
    if not (folder / EVALUATION_FILE).is_file():
        return False
    try:
        saved = json.loads((folder / RUN_FILE).read_text())
    except (OSError, ValueError):
        return True
    wanted = json.loads(json.dumps(dataclasses.asdict(trial.config)))
    differing = sorted(k for k in wanted if k not in ("spec", "device") and saved.get(k) != wanted[k])
    if differing:
        raise UsageError(f"{folder} was trained with a different {', '.join(differing)}",
                         hint="sweep into a new --out folder, or delete that trial folder to retrain it")
    return True
