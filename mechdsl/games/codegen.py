"""Stage 5 for games: a checked `GameModel` -> the batched env package of its auctioneer.

What the RL harness learns in a game spec is the tier-2 auctioneer's clock (the seed
paper's diffusion-based auctioneer): `compile_game(model, out_dir)` renders the
`templates/game_*.j2` files into `out_dir` (default `generated/<game>/`): `env.py` (a
`mechdsl.rl.env.BatchedEnv` whose actions set the double Dutch auction's clocks and whose
reward is expected welfare minus a cost per clock tick), `train.py`, `spec.json`,
`spec.mech`, `README.md`, `__init__.py` and the `.mechdsl-generated` marker.

Writing follows `mechdsl.codegen.generate.compile_spec`: deterministic text (no
timestamps), a staging folder moved into place file by file with the marker last, files
mechdsl did not write never deleted, and a folder without the marker written into only
with `force=True`.
"""

from __future__ import annotations

import json
from pathlib import Path

from mechdsl.errors import CompileError
from mechdsl.codegen.generate import _environment, sampling_code, write_package
from mechdsl.codegen.printer import UnsafeIdentifier, check_identifier
from mechdsl.codegen.templating import render_package
from mechdsl.games.model import GameModel
from mechdsl.games.refusal import refusal
from mechdsl.model import Distribution
from mechdsl.runtime import sampling

FILES = {  # output file -> template
    "__init__.py": "game_init.py.j2",
    "env.py": "game_env.py.j2",
    "train.py": "game_train.py.j2",
    "README.md": "game_README.md.j2",
}
ACTION_LAYOUT = ("seller_clock_start", "buyer_clock_start", "clock_step")
ROUND_COST = "round_cost"  # the spec constant: cost of one clock tick in the reward
BOUNDED = ("uniform", "loguniform")


def _draw(d: Distribution) -> str:
    """Code of the `mechdsl.runtime.sampling` block drawing one private value or cost."""
    return sampling_code(sampling.Scalar(d.name, tuple(float(a) for a in d.args)))


def require_compilable(model: GameModel) -> None:
    """Refuse (exit 2, positioned) a game whose auctioneer env cannot be generated: what
    compile, train, eval, run and sweep need, checked before any of them starts."""
    auction = model.auction
    if auction is None:
        raise refusal(model, "game", "cannot compile this game: it has no auction, and compile, train, eval, run "
                      "and sweep of a game learn its tier-2 auctioneer (`mechdsl solve` solves and certifies "
                      "the equilibrium of any game)",
                      hint=f"add an `auction NAME {{ mechanism double_dutch ... }}` block with bounded private "
                           f"values and costs, and `param {ROUND_COST} = 0.02` (docs/games.md)",
                      unpositioned=CompileError)
    if auction.mechanism != "double_dutch":
        raise refusal(model, "auction", f"cannot compile this game: the RL env learns clock settings, but "
                      f"'{auction.mechanism}' is a sealed-bid auction without clocks",
                      hint="use `mechanism double_dutch` in the auction block", unpositioned=CompileError)
    if ROUND_COST not in model.constants:
        raise refusal(model, "auction", "cannot compile this game: the auctioneer's reward needs the cost of one "
                      "clock tick", hint=f"declare `param {ROUND_COST} = 0.02` (welfare units per tick)",
                      unpositioned=CompileError)
    distributions = [*auction.buyers.distributions, *auction.sellers.distributions]
    for d in distributions:
        if d.name not in BOUNDED:
            raise refusal(model, "auction", f"cannot compile this game: a private value/cost ~ {d.name}(...) is "
                          "unbounded; the clocks need a finite price range",
                          hint="use uniform(lo, hi) or loguniform(lo, hi)", unpositioned=CompileError)


def _context(model: GameModel, source: str) -> dict:
    require_compilable(model)
    auction = model.auction
    where = f"cannot compile {model.path}"
    distributions = [*auction.buyers.distributions, *auction.sellers.distributions]
    try:
        check_identifier(model.name)
    except UnsafeIdentifier as error:
        raise CompileError(f"{where}: {error}") from None
    low = min(float(d.args[0]) for d in distributions)
    high = max(float(d.args[1]) for d in distributions)
    step_max = (high - low) / 2
    step_min = min(float(auction.step), step_max) if auction.step is not None else (high - low) / 200
    state_layout = ([f"{auction.buyers.name}[{k}].value" for k in range(auction.buyers.count)]
                    + [f"{auction.sellers.name}[{k}].cost" for k in range(auction.sellers.count)])
    round_cost = float(model.constants[ROUND_COST].value)
    action_penalty = float(model.train.get("action_penalty", 0.0) or 0.0)
    algorithm = str(model.train.get("algorithm", "edmsac"))
    spec_json = {
        "game": model.name, "source": Path(model.path).name, "sizes": dict(sorted(model.sizes.items())),
        "auction": {"name": auction.name, "mechanism": auction.mechanism, "step": auction.step,
                    "buyers": {"name": auction.buyers.name, "count": auction.buyers.count,
                               "values": [{"name": d.name, "args": [float(a) for a in d.args]}
                                          for d in auction.buyers.distributions]},
                    "sellers": {"name": auction.sellers.name, "count": auction.sellers.count,
                                "costs": [{"name": d.name, "args": [float(a) for a in d.args]}
                                          for d in auction.sellers.distributions]}},
        "round_cost": round_cost, "action_penalty": action_penalty,
        "price_range": [low, high], "step_range": [step_min, step_max],
        "train": {k: model.train[k] for k in sorted(model.train)},
        "state_layout": state_layout, "action_layout": list(ACTION_LAYOUT),
        "reward": "expected gains from trade - round_cost * clock ticks",
        "optimum": "efficient gains from trade",
    }
    return {
        "game": model.name, "auction": auction, "source_name": Path(model.path).name, "source": source,
        "class_name": "".join(p[:1].upper() + p[1:] for p in model.name.split("_") if p) + "Env",
        "n_buyers": auction.buyers.count, "n_sellers": auction.sellers.count,
        "state_layout": state_layout, "action_layout": list(ACTION_LAYOUT),
        "state_low": tuple(float(d.args[0]) for d in distributions),
        "state_high": tuple(float(d.args[1]) for d in distributions),
        "draws": [_draw(d) for d in distributions],
        "price_low": low, "price_high": high, "step_min": step_min, "step_max": step_max,
        "round_cost": round_cost, "action_penalty": action_penalty, "algorithm": algorithm,
        "spec_json": json.dumps(spec_json, indent=2),
    }


def render_game(model: GameModel, source: str | None = None) -> dict[str, str]:
    """file name -> text of every generated file (no I/O besides reading templates)."""
    source = source if source is not None else Path(model.path).read_text(encoding="utf-8")
    context = _context(model, source)
    return render_package(_environment(), FILES, context,
                          {"spec.json": context["spec_json"] + "\n", "spec.mech": source})


def compile_game(model: GameModel, out_dir: str | Path | None = None, force: bool = False,
                 source: str | None = None) -> list[Path]:
    """Render and write the package (`mechdsl.codegen.generate.write_package` rules)."""
    out = Path(out_dir) if out_dir is not None else Path("generated") / model.name
    return write_package(out, lambda: render_game(model, source), force)
