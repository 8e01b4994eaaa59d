"""What a spec kind is: its declaration, statements, checker, model, back end and verbs.

A *kind* (contract, game, scenario) is one entry of `mechdsl.kinds.registry.KINDS`. The CLI
never branches on a model's class: it asks the spec's kind whether a verb applies
(`Kind.require`) and hands compile / train / eval to the kind's *back end*, a module with
the same four functions for every kind:

    compile(model, target: Path, *, source: str, force: bool = False) -> list[Path]
        write the generated batched-env package into `target` (idempotent, marker-guarded);
    build_env(config: RunConfig, run_dir: Path, model, dtype=torch.float32) -> env
        compile into `run_dir/package` (idempotent) and instantiate the package's `Env`;
    train_run(config: RunConfig, run_dir: Path, model, *, resume, log, eval_states,
              curve_states, stages) -> dict
        train `config.algo` on the compiled env, evaluate, write report.md + plots (timing
        each stage in `stages`, a `mechdsl.rl.stages.StageClock`) and return the evaluation
        summary (keys `n_states`, `mean_utility`, `violation_rate`; `mean_optimum` and
        `optimality_ratio` where a reference optimum exists);
    evaluate_run(config: RunConfig, run_dir: Path, model, n_states: int, seed: int) -> dict
        per-state evaluation of a finished run (what `mechdsl eval --json` prints).

Back ends import torch, so a kind names its back end by module path and imports it on
first use: checking a spec stays torch-free.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from mechdsl.errors import UnsupportedVerb

# Every verb of the `mechdsl` command, in the order `mechdsl --help` lists them.
VERBS = ("check", "fmt", "derive", "solve", "compile", "train", "eval", "run", "sweep")


HEADER_STATEMENTS = ("MechanismDecl", "GameDecl", "ScenarioDecl", "AuctionDesignDecl")  # one per kind

@dataclass(frozen=True)
class Kind:
    """One spec kind. `checker` is its `mechdsl.lang` checker class, whose `DECLARATION`
    (the statement naming a spec of this kind) and `STATEMENTS` (every statement type the
    kind allows) say which specs are of this kind and what they may contain."""

    checker: type
    model: type
    back_end: str
    verbs: tuple[str, ...]
    summary: str
    unavailable: str = ""  # why the verbs it lacks are missing, added to the refusal

    def __post_init__(self) -> None:
        unknown = set(self.verbs) - set(VERBS)
        if unknown:
            raise ValueError(f"kind {self.name}: unknown verb(s) {', '.join(sorted(unknown))}")

    @property
    def name(self) -> str:
        """The kind's name ("contract", "game", "scenario", "auction_design"): its checker's `KIND`."""
        return self.checker.KIND

    @property
    def declaration(self) -> str:
        """The keyword that names a spec of this kind (`mechanism`, `game`, `scenario`)."""
        return self.checker.DECLARATION_KEYWORD

    @property
    def header(self) -> str | None:
        """The AST class name of the statement that starts a spec of this kind (`game NAME`, ...)."""
        return next((t.__name__ for t in self.statements if t.__name__ in HEADER_STATEMENTS), None)

    @property
    def statements(self) -> frozenset[type]:
        return self.checker.STATEMENTS

    def supports(self, verb: str) -> bool:
        return verb in self.verbs

    def require(self, verb: str, where: str) -> None:
        """Raise `UnsupportedVerb` (exit 2) naming the verbs this kind supports."""
        if not self.supports(verb):
            article = "an" if self.name[0] in "aeiou" else "a"
            why = f"; {self.unavailable}" if self.unavailable else ""
            refusal = UnsupportedVerb(f"{verb}: {where} is {article} {self.name} spec ({self.declaration} NAME); "
                                      f"{self.name} specs support {', '.join(v for v in VERBS if v in self.verbs)}{why}")
            refusal.statement, refusal.headline = self.header, ""  # the CLI points at the spec's header line
            raise refusal

    def pipeline(self) -> ModuleType:
        """The back-end module (compile, build_env, train_run, evaluate_run), imported now."""
        return importlib.import_module(self.back_end)
