"""What every training run shares, whatever the spec's kind: its configuration (`RunConfig`,
run.json), its folder (never replacing a user's files), the generated package it imports,
and the agent rebuilt from its checkpoint. The kind's back end (`mechdsl.kinds`) does the
compiling, training, evaluating and reporting.

A run folder holds everything needed to evaluate it again later:
    run.json          the configuration (spec path and text, algorithm, seed, settings)
    package/          the generated environment (`mechdsl compile` output)
    checkpoint.pt     the agent, buffer and generators (written by `mechdsl.rl.loop`)
    metrics.csv/jsonl the learning curve
    evaluation.json   held-out evaluation against the exact optimum
    report.md + PNGs  plots (learning curves, optimality ratio, contract items per type)
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import sys
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from mechdsl.errors import UsageError
from mechdsl.lang.auction_design_checker import AUCTION_ALGORITHMS, AUCTION_TRAIN_SETTINGS
from mechdsl.lang.train_schema import RUN_SETTINGS

RUN_FILE = "run.json"
DEFAULT_STEPS = 2000


@dataclass(frozen=True)
class RunConfig:
    spec: str
    source: str
    algo: str
    steps: int
    seed: int
    device: str
    preset: str
    hparams: dict = field(default_factory=dict)
    overrides: dict = field(default_factory=dict)

    def save(self, run_dir: Path) -> None:
        from mechdsl.rl.checkpoint import atomic_write_text

        atomic_write_text(run_dir / RUN_FILE, json.dumps(asdict(self), indent=2, sort_keys=True))

    @staticmethod
    def load(run_dir: Path) -> "RunConfig":
        """The configuration in `run_dir/run.json`, refused (`UsageError` naming the file) unless
        it is exactly the fields of a RunConfig, with a known algorithm, preset and
        hyperparameters (`run_file_problem`) and a device this machine has (`device_problem`)."""
        path = Path(run_dir) / RUN_FILE
        if not path.is_file():
            raise UsageError(f"{run_dir} is not a mechdsl run folder (no {RUN_FILE})",
                             hint="pass the folder that `mechdsl train` or `mechdsl run` wrote")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise UsageError(f"{path} is not readable JSON ({error})", hint=RUN_FILE_HINT) from None
        problem = run_file_problem(raw)
        if problem is not None:
            raise UsageError(f"{path}: {problem}", hint=RUN_FILE_HINT)
        problem = device_problem(raw["device"])
        if problem is not None:
            raise UsageError(f"{path}: {problem}",
                             hint=f'use a machine that has it, or set "device": "cpu" in {RUN_FILE} '
                                  "(the weights load on any device)")
        return RunConfig(**raw)


RUN_FILE_HINT = f"{RUN_FILE} is written by `mechdsl train`; train the run again, or restore the file"


def run_file_problem(raw) -> str | None:
    """What keeps the parsed run.json `raw` from being a RunConfig, or None: the keys and their
    types, then the algorithm, preset and hyperparameters (`resolve_hparams`)."""
    from mechdsl.rl.algorithms import HyperparameterError, resolve_hparams

    if not isinstance(raw, dict):
        return f"expected a JSON object, found {type(raw).__name__}"
    types = typing.get_type_hints(RunConfig)
    unknown, missing = sorted(set(raw) - set(types)), sorted(set(types) - set(raw))
    if unknown or missing:
        return "; ".join(([f"unknown key(s) {', '.join(unknown)}"] if unknown else [])
                         + ([f"missing key(s) {', '.join(missing)}"] if missing else []))
    wrong = [f"{name} must be {kind.__name__}, not {json.dumps(raw[name])[:40]}" for name, kind in types.items()
             if not isinstance(raw[name], kind) or (isinstance(raw[name], bool) and kind is not bool)]
    if wrong:
        return ", ".join(wrong)
    if raw["algo"] in AUCTION_ALGORITHMS:  # an auction_design run: the train block's settings, no RL hparams
        unknown = sorted(set(raw["hparams"]) - set(AUCTION_TRAIN_SETTINGS))
        return f"unknown auction setting(s) {', '.join(unknown)}" if unknown else None
    try:
        resolve_hparams(raw["algo"], raw["preset"], raw["hparams"])
    except HyperparameterError as error:
        return str(error)
    return None


def device_problem(device: str) -> str | None:
    """Why torch cannot place tensors on `device` on this machine ("cuda" without CUDA, a GPU
    index beyond the count, a name torch does not know), or None."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        return f"device {device!r} is not a torch device (cpu, cuda, cuda:1, ...)"
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            return f"device {device!r}, but CUDA is not available on this machine"
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            return f"device {device!r}, but this machine has {torch.cuda.device_count()} CUDA device(s)"
    elif parsed.type == "mps" and not torch.backends.mps.is_available():
        return f"device {device!r}, but MPS is not available on this machine"
    elif parsed.type not in ("cpu", "mps"):
        return f"device {device!r} is not one mechdsl runs on (cpu, cuda, cuda:N, mps)"
    return None


def load_package(folder: Path) -> ModuleType:
    """Import a generated package from its folder, under a name unique to that folder."""
    folder = Path(folder).resolve()
    name = "_mechdsl_run_" + hashlib.sha1(str(folder).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, folder / "__init__.py", submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def configure(spec_path: str, source: str, model, *, algo: str | None, steps: int | None, seed: int | None,
              device: str, preset: str | None, overrides: dict) -> RunConfig:
    """Merge the spec's `train` block with command-line choices (the command line wins)."""
    from mechdsl.rl.algorithms import HyperparameterError, algorithm_spec

    settings = dict(model.train)
    algo = algo or settings.get("algorithm", "edmsac")
    try:
        algorithm_spec(algo)
    except HyperparameterError as error:
        raise UsageError(str(error), hint="--algo names one of the algorithms above") from None
    hparams = {k: v for k, v in settings.items() if k not in RUN_SETTINGS}
    if algo != settings.get("algorithm"):
        from mechdsl.rl import hyperparameter_names

        known = hyperparameter_names(algo)
        hparams = {k: v for k, v in hparams.items() if k in known}  # the block was written for another algorithm
    return RunConfig(spec=spec_path, source=source, algo=algo,
                     steps=int(steps or settings.get("steps", DEFAULT_STEPS)),
                     seed=int(seed if seed is not None else settings.get("seed", 0)), device=device,
                     preset=preset or settings.get("preset", "default"), hparams=hparams, overrides=overrides)


def default_run_dir(config: RunConfig, model_name: str) -> Path:
    return Path("runs") / f"{model_name}-{config.algo}-seed{config.seed}"


class RunFolderError(ValueError):
    """A run folder that cannot be used as asked (it holds a run, or holds nothing to resume)."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class RunFolder:
    """Where a run goes: `path`, whether it continues the run there (`resume`), and where the
    folder that was there is moved first (`move_aside_to`, with `--overwrite`)."""

    path: Path
    resume: bool = False
    move_aside_to: Path | None = None

    def prepare(self) -> None:
        """Move the old folder aside (never deleted) so the run starts in an empty `path`."""
        if self.move_aside_to is not None:
            self.path.rename(self.move_aside_to)


def _holds_files(folder: Path) -> bool:
    return folder.is_dir() and any(folder.iterdir())


def _suffixed(base: Path, n: int) -> Path:
    """`base` itself for n = 1, else `base-n` (runs/x-amortized-seed0-2, -3, ...)."""
    return base if n == 1 else base.with_name(f"{base.name}-{n}")


def _existing_suffixes(base: Path) -> list[int]:
    """n of every existing `_suffixed(base, n)`."""
    if not base.parent.is_dir():
        return []
    numbered = re.compile(re.escape(base.name) + r"(?:-(\d+))?")
    matches = (numbered.fullmatch(p.name) for p in base.parent.iterdir())
    return [int(m.group(1) or 1) for m in matches if m]


def aside_path(folder: Path) -> Path:
    """The first free `<folder>.old-N` (N = 1, 2, ...), where `--overwrite` keeps the old run."""
    n = 1
    while folder.with_name(f"{folder.name}.old-{n}").exists():
        n += 1
    return folder.with_name(f"{folder.name}.old-{n}")


def saved_run(folder: Path) -> dict | None:
    """The algo, steps and seed in `folder/run.json`, or None if it is missing or unreadable."""
    try:
        saved = json.loads((folder / RUN_FILE).read_text())
        return {name: saved[name] for name in ("algo", "steps", "seed")}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def describe_run(folder: Path) -> str:
    """`folder` in a message: 'runs/x (a run of amortized, 300 steps, seed 0)'."""
    saved = saved_run(folder)
    if saved is None:
        return f"{folder} (files that are not a mechdsl run)"
    return f"{folder} (a run of {saved['algo']}, {saved['steps']} steps, seed {saved['seed']})"


def plan_run_folder(requested: Path | None, default: Path, *, resume: bool = False,
                    overwrite: bool = False) -> RunFolder:
    """Choose the run folder without touching the disk; nothing a user made is replaced.

    * `--out DIR` (`requested`): a missing or empty DIR is used; a DIR holding files is refused
      unless `resume` (DIR must hold a run: run.json) or `overwrite` (DIR is moved to
      `DIR.old-N` first).
    * no `--out`: a new run takes the first free folder of `default`, `default-2`, `default-3`,
      ...; `resume` continues the newest of them; `overwrite` replaces `default` itself (moved
      aside first)."""
    if resume and overwrite:
        raise RunFolderError("--resume and --overwrite exclude each other",
                             hint="--resume continues the run in the folder, --overwrite starts a new one there")
    if requested is None:
        if resume:
            numbers = _existing_suffixes(default)
            if not numbers:
                raise RunFolderError(f"nothing to resume: no run folder {default} yet",
                                     hint="train without --resume first, or pass --out RUN_DIR")
            requested = _suffixed(default, max(numbers))
        elif not overwrite:
            n = 1
            while _holds_files(_suffixed(default, n)):
                n += 1
            return RunFolder(_suffixed(default, n))
        else:
            requested = default
    if requested.exists() and not requested.is_dir():
        raise RunFolderError(f"{requested} exists and is not a folder", hint="pass another --out RUN_DIR")
    if not _holds_files(requested):
        if resume:
            raise RunFolderError(f"nothing to resume in {requested}: it holds no run",
                                 hint="train without --resume to start a run there")
        return RunFolder(requested)
    if resume:
        if saved_run(requested) is None:
            raise RunFolderError(f"cannot resume {describe_run(requested)}", hint="pass the folder a run was written to")
        return RunFolder(requested, resume=True)
    if overwrite:
        return RunFolder(requested, move_aside_to=aside_path(requested))
    raise RunFolderError(f"{describe_run(requested)} already exists; refusing to replace it",
                         hint=f"--resume continues it, --overwrite starts anew (the old folder is moved to "
                              f"{aside_path(requested)}), or choose another folder with --out")


def check_resumable(config: RunConfig, folder: RunFolder) -> None:
    """A resumed run must be the same algorithm and seed as the one saved in the folder."""
    if not folder.resume:
        return
    saved = saved_run(folder.path) or {}
    for name in ("algo", "seed"):
        if saved.get(name) != getattr(config, name):
            raise RunFolderError(f"cannot resume {describe_run(folder.path)} with {name} {getattr(config, name)}",
                                 hint=f"the run there was trained with {name} {saved.get(name)}; "
                                      "use --overwrite or another --out for a new run")


def load_agent(config: RunConfig, run_dir: Path, env):
    """The trained agent of a run folder, rebuilt from its checkpoint; also the curve rows."""
    from mechdsl.rl import resolve_hparams
    from mechdsl.rl.algorithms import make_agent
    from mechdsl.rl.checkpoint import (CHECKPOINT_NAME, CheckpointError, load_checkpoint, require_finite_actions,
                                       restoring)
    from mechdsl.rl.env import observation
    from mechdsl.seeds import TRAINING_EVALUATION_SEED

    device = torch.device(config.device)
    path = Path(run_dir) / CHECKPOINT_NAME
    checkpoint = load_checkpoint(path, device)
    if checkpoint is None:
        raise UsageError(f"{run_dir} has no checkpoint yet", hint="train first: mechdsl train SPEC --out RUN_DIR")
    if checkpoint["algo"] != config.algo:
        raise CheckpointError(f"{path} holds a {checkpoint['algo']} agent, but {RUN_FILE} says {config.algo}",
                              hint="the checkpoint and run.json come from different runs")
    hp = resolve_hparams(config.algo, config.preset, config.hparams, env)
    agent = make_agent(config.algo, env, hp, torch.Generator(device=device).manual_seed(config.seed), device)
    with restoring(path):
        agent.load_state_dict(checkpoint["agent"])
    probe = env.reset(FINITE_PROBE_STATES, torch.Generator(device=env.device).manual_seed(TRAINING_EVALUATION_SEED))
    require_finite_actions(agent, observation(env, probe.to(device)), path)
    return agent, checkpoint["rows"]


FINITE_PROBE_STATES = 64  # states on which a loaded policy must give finite actions


def load_package_of(env) -> ModuleType:
    """The generated `env.py` module of an env instance (layouts, constants)."""
    return sys.modules[type(env).__module__]


def state_dicts(model, env, state: torch.Tensor) -> list[dict[str, float]]:
    """Env state rows -> named state dicts with constants and derived quantities."""
    from mechdsl.solve.state import with_derived

    package = load_package_of(env)
    rows = state.detach().to("cpu", torch.float64).numpy()
    named = {name: np.full(len(rows), value) for name, value in package.CONSTANTS.items()}
    named.update({name: rows[:, i] for i, name in enumerate(package.STATE_LAYOUT)})
    full = with_derived(model, named)
    return [{k: float(v[i]) for k, v in full.items()} for i in range(len(rows))]
