"""From an auction-design spec to a learned mechanism and back: the `Setting` a checked
`AuctionDesignModel` describes, the mechanism family its `train` block picks, training it,
and rebuilding it from its saved weights.

Families (`algorithm = ...` in the train block, or `--algo`):
    rochetnet / menu     a menu of lotteries (one bidder; IC and IR by construction)
    affine_maximizer     a lottery affine maximizer (any bidders; DSIC and IR for any weights)
    regretnet            allocation and payment networks trained on regret (IC only approximately)
    myerson              Myerson's auction per item (additive or single item; nothing to train)
Default: the menu for one bidder, the affine maximizer for several (both are exactly IC, so
the spec's `constraint ic` holds by construction, not only up to the measured regret).
"""

from __future__ import annotations

from pathlib import Path

import torch

from mechdsl.auction_design.learned import (AffineMaximizer, ItemwiseMyerson, LotteryMenu, RegretNet, Setting,
                                            TrainedMechanism, train_affine_maximizer, train_menu, train_regretnet)
from mechdsl.auction_design.learned.setting import ValueDistribution
from mechdsl.auction_design.model import AuctionDesignModel
from mechdsl.errors import UsageError
from mechdsl.lang.diagnostics import Diagnostic, SpecError

WEIGHTS_NAME = "mechanism.pt"   # the mechanism's state dict (torch.load(weights_only=True))
MENU_ALIASES = ("menu", "rochetnet")
LEARNED_ALGORITHMS = ("rochetnet", "menu", "affine_maximizer", "regretnet", "myerson")


def default_algorithm(model: AuctionDesignModel) -> str:
    return "rochetnet" if len(model.bidders) == 1 else "affine_maximizer"


def setting_of(model: AuctionDesignModel) -> Setting:
    """The learned library's `Setting` for a checked spec (after `--set`): one bidder per
    `bidder` entry, `model.items` items (a single item is additive with one item), and each
    (bidder, item) value law, which must be `uniform(lo, hi)` (the only law the learned
    mechanisms sample); other laws are a positioned refusal (exit 2)."""
    if model.objective.kind != "revenue":
        raise UsageError(f"{model.name} maximizes {model.objective}: the learned auction mechanisms maximize revenue",
                         hint="write `maximize revenue` to train a mechanism")
    rows = []
    for bidder in model.bidders:
        row = []
        for law in bidder.distributions:
            if law.name != "uniform":
                raise SpecError(model.path, model.source, [Diagnostic(
                    f"{bidder.name}'s value law {law} is not supported by the learned auction mechanisms "
                    "(they sample uniform(lo, hi) values only)", bidder.span,
                    hint="use uniform(lo, hi) values to train a mechanism; `mechdsl solve` certifies Myerson's "
                         "auction for any law of a single item")])
            row.append(ValueDistribution("uniform", tuple(float(a) for a in law.args)))
        rows.append(tuple(row))
    valuation = "additive" if model.valuation == "single" else model.valuation
    laws = {d for row in rows for d in row}
    law = f" {next(iter(laws)).name}{next(iter(laws)).params}" if len(laws) == 1 else ""
    return Setting(len(rows), model.items, valuation, tuple(rows),
                   name=f"{model.name}: {len(rows)}x{model.items} {valuation}{law}")


def require_family(algo: str, setting: Setting) -> None:
    """Refuse a family that cannot sell in `setting` before anything is trained."""
    if algo not in LEARNED_ALGORITHMS:
        raise UsageError(f"unknown algorithm {algo!r} for an auction_design spec",
                         hint=f"choose one of: {', '.join(LEARNED_ALGORITHMS)}")
    if algo in MENU_ALIASES and setting.n_bidders != 1:
        raise UsageError(f"a menu of lotteries ({algo}) sells to one bidder, the spec has {setting.n_bidders}",
                         hint="use algorithm = affine_maximizer (exactly IC) or regretnet")
    if algo == "myerson" and setting.valuation != "additive":
        raise UsageError("item-wise Myerson is a mechanism for additive bidders only",
                         hint="use algorithm = rochetnet (one bidder) or affine_maximizer")


def _sizes(hparams: dict) -> dict:
    """Constructor arguments that the saved weights' shapes depend on."""
    return {"menu_size": int(hparams.get("menu_size", 0)) or None, "hidden": int(hparams.get("hidden", 100))}


def build(algo: str, setting: Setting, hparams: dict, seed: int = 0, device: str = "cpu"):
    """An untrained mechanism of family `algo` shaped like a trained one (its weights load into it)."""
    size = _sizes(hparams)
    if algo in MENU_ALIASES:
        return LotteryMenu(setting, size["menu_size"] or 1000, seed=seed, device=device)
    if algo == "affine_maximizer":
        return AffineMaximizer(setting, size["menu_size"] or 64, seed=seed, device=device)
    if algo == "regretnet":
        return RegretNet(setting, size["hidden"]).to(device)
    return ItemwiseMyerson(setting)


def train_mechanism(algo: str, setting: Setting, hparams: dict, steps: int, seed: int,
                    device: str) -> TrainedMechanism:
    """Train family `algo` for `steps` steps with the train block's settings."""
    require_family(algo, setting)
    common = {"steps": steps, "seed": seed, "device": device}
    if "lr" in hparams:
        common["lr"] = float(hparams["lr"])
    if "batch_size" in hparams:
        common["batch"] = int(hparams["batch_size"])
    size = _sizes(hparams)
    if algo in MENU_ALIASES:
        return train_menu(setting, n_entries=size["menu_size"] or 1000, **common)
    if algo == "affine_maximizer":
        return train_affine_maximizer(setting, n_lotteries=size["menu_size"] or 64, **common)
    if algo == "regretnet":
        return train_regretnet(setting, hidden=size["hidden"], **common)
    return TrainedMechanism(ItemwiseMyerson(setting), 0.0, [])


def save_weights(mechanism, run_dir: Path) -> Path | None:
    """The mechanism's parameters as a plain state dict (None for Myerson: it has none)."""
    from mechdsl.rl.checkpoint import atomic_write_bytes

    if not isinstance(mechanism, torch.nn.Module):
        return None
    path = Path(run_dir) / WEIGHTS_NAME
    state = {name: tensor.detach().cpu() for name, tensor in mechanism.state_dict().items()}
    atomic_write_bytes(path, lambda f: torch.save(state, f))
    return path


def load_mechanism(algo: str, setting: Setting, hparams: dict, run_dir: Path, device: str):
    """The trained mechanism of a run folder, its weights read with weights_only=True."""
    mechanism = build(algo, setting, hparams, device=device)
    if not isinstance(mechanism, torch.nn.Module):
        return mechanism
    path = Path(run_dir) / WEIGHTS_NAME
    if not path.is_file():
        raise UsageError(f"{run_dir} has no trained mechanism ({WEIGHTS_NAME})",
                         hint="train first: mechdsl train SPEC --out RUN_DIR")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
        mechanism.load_state_dict(state)
    except Exception as error:  # noqa: BLE001 - any unreadable or mismatched file is the same user problem
        raise UsageError(f"{path} does not hold the weights of a {algo} mechanism for this spec "
                         f"({str(error).splitlines()[0][:200]})",
                         hint="train the run again; the spec (or its --set values) may have changed shape") from None
    mechanism.eval()
    return mechanism
