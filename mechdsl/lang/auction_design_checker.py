"""Checker of auction-design specs: `ast.Spec` (starting with `design auction NAME`) ->
`mechdsl.auction_design.model.AuctionDesignModel`.

It reuses the checking every kind shares (`spec_checker.SpecChecker`: sizes with `--set`,
constants, `let`s, positioned diagnostics gathered and reported together) and adds the
auction statements: `bidder b[i in n] value ~ dist` (one or more populations; a
distribution's arguments may use the bidder's index, so bidders may be asymmetric; a second
binding `[i in n, j in m]` gives each item its own law), `valuation single | additive over m
| unit_demand over m`, `maximize revenue | welfare | mix(w)` and `constraint ir` (ex post) /
`constraint ic` (dominant strategy), both required. The header is `design auction NAME`, not
`auction NAME { ... }`, which is the tier-2 double-auction block of game specs (docs/language.md).
"""

from __future__ import annotations

import sympy as sp

from mechdsl import model as m
from mechdsl.auction_design.model import (OBJECTIVES, VALUATIONS, AuctionDesignModel, AuctionObjective, Bidder)
from mechdsl.lang import ast
from mechdsl.lang.diagnostics import did_you_mean
from mechdsl.lang.indexed_checker import IndexedChecker
from mechdsl.lang.lowering import Context, fail
from mechdsl.lang.spec_checker import SHARED_STATEMENTS, SpecChecker

VALUE_DISTRIBUTIONS = ("uniform", "loguniform", "normal", "choice")  # every scalar law of the language

# What a train block of an auction_design spec may set: name -> (type, low, high, description).
AUCTION_ALGORITHMS = ("myerson", "rochetnet", "menu", "regretnet", "affine_maximizer")  # menu: rochetnet
AUCTION_TRAIN_SETTINGS: dict[str, tuple[type, float | None, float | None, str]] = {
    "algorithm": (str, None, None, "mechanism family"),
    "steps": (int, 1, None, "training steps"),
    "seed": (int, 0, None, "random seed"),
    "batch_size": (int, 1, None, "value profiles per step"),
    "lr": (float, 0, 1, "learning rate"),
    "menu_size": (int, 1, None, "lotteries in a menu (rochetnet) or learned lotteries (affine_maximizer)"),
    "hidden": (int, 1, None, "hidden units per layer"),
    "restarts": (int, 1, None, "misreport restarts of the regret estimate"),
    "eval_profiles": (int, 1, None, "value profiles of the final evaluation"),
}


class AuctionDesignChecker(IndexedChecker, SpecChecker):
    KIND = "auction_design"
    DECLARATION = ast.AuctionDesignDecl
    DECLARATION_KEYWORD = "design auction"
    STATEMENTS = SHARED_STATEMENTS | {
        ast.AuctionDesignDecl, ast.BidderDecl, ast.ValuationDecl, ast.ObjectiveDecl, ast.ConstraintIR,
        ast.ConstraintIC,
    }
    DECLARES = {ast.BidderDecl: "bidder population"}
    CONTENTS = "bidder b[i in n] value ~ dist, valuation, maximize revenue | welfare | mix(w), constraint ir, constraint ic"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.bidders: list[Bidder] = []
        self._items = (1, None)

    # ================================================================ driver
    def _declarations(self) -> None:
        valuations = self._of(ast.ValuationDecl)
        for extra in valuations[1:]:
            self._error("a second valuation; only one is allowed", extra.span)
        self._valuation = self._attempt(self._valuation_of, valuations[0]) if valuations else ("single", 1, None)
        for node in self._of(ast.BidderDecl):
            self._declare(self._bidder, node)

    def _statements(self) -> dict:
        if not self._of(ast.BidderDecl):
            self._error_at_end("the auction declares no bidder", "add e.g. `bidder b[i in n] value ~ uniform(0, 1)`")
        objectives = self._of(ast.ObjectiveDecl)
        for extra in objectives[1:]:
            self._error("a second objective; only one is allowed", extra.span)
        objective = self._attempt(self._objective, objectives[0]) if objectives else None
        if not objectives:
            self._error_at_end("the auction declares no objective", "add `maximize revenue` (or welfare, mix(w))")
        ir = bool(self._of(ast.ConstraintIR))
        for node in self._of(ast.ConstraintIR):
            if node.scope != "per_period":
                self._error(f"'constraint ir {node.scope}' is for multi-period contracts", node.span,
                            hint="an auction's IR is ex post: write `constraint ir`")
        ic = bool(self._of(ast.ConstraintIC))
        for present, word, meaning in ((ir, "ir", "ex post individual rationality"),
                                       (ic, "ic", "dominant-strategy incentive compatibility")):
            if not present:
                self._error_at_end(f"the auction does not state `constraint {word}`",
                                   f"add `constraint {word}` ({meaning}): every mechanism mechdsl designs keeps it")
        return dict(objective=objective, ir=ir, ic=ic)

    def _model(self, name: str, parts: dict, train: dict) -> AuctionDesignModel:
        form, items, item_size = self._valuation
        return AuctionDesignModel(
            name=name, path=self.spec.path, source=self.spec.source, sizes=dict(self.sizes), constants=self.constants,
            derived=self.derived, bidders=tuple(self.bidders), items=items, item_size=item_size, valuation=form,
            train=train, **parts)

    # ================================================================ statements
    def _valuation_of(self, node: ast.ValuationDecl) -> tuple[str, int, str | None]:
        if node.form not in VALUATIONS:
            raise fail(f"unknown valuation '{node.form}'", node.span,
                       hint=did_you_mean(node.form, VALUATIONS) or f"choose one of: {', '.join(VALUATIONS)}")
        if node.form == "single":
            if node.items is not None:
                raise fail("a single-item valuation has no items to range over", node.span,
                           hint=f"write `valuation single`, or `valuation additive over {node.items}` for several items")
            return "single", 1, None
        if node.items is None:
            raise fail(f"'valuation {node.form}' needs the size that counts the items", node.span,
                       hint=f"declare `size m = 2` and write `valuation {node.form} over m`")
        items = self.size_of(ast.Binding(node.items, node.items, node.span))
        return node.form, items, node.items

    def _bidder(self, node: ast.BidderDecl) -> None:
        form, items, item_size = self._valuation or ("single", 1, None)
        if len(node.bindings) > 2:
            raise fail(f"bidder '{node.name}' has {len(node.bindings)} indices; it takes one (the bidder) or two "
                       "(bidder, item)", node.span)
        if len(node.bindings) == 2:
            if node.bindings[1].size != item_size:
                raise fail(f"the second index of '{node.name}' ranges over the items: "
                           + (f"write `[{node.bindings[0].index} in {node.bindings[0].size}, "
                              f"{node.bindings[1].index} in {item_size}]`" if item_size else "this valuation has "
                              "a single item"), node.bindings[1].span,
                           hint=None if item_size else "write `valuation additive over m` for several items")
            if node.bindings[0].index == node.bindings[1].index:
                raise fail(f"index '{node.bindings[0].index}' is bound twice", node.bindings[1].span)
        count = self.size_of(node.bindings[0])
        for k in range(count):
            locals_ = {node.bindings[0].index: sp.Integer(k)}
            laws = []
            for j in range(items):
                if len(node.bindings) == 2:
                    locals_[node.bindings[1].index] = sp.Integer(j)
                laws.append(self._value_law(node, Context(dict(locals_)), f"{node.name}[{k}]"))
            self.bidders.append(Bidder(m.entry_name(node.name, (k,)), node.name, tuple(laws), node.distribution.span))

    def _value_law(self, node: ast.BidderDecl, ctx: Context, owner: str) -> m.Distribution:
        law = self._distribution(node.distribution, ctx, allowed=VALUE_DISTRIBUTIONS, owner=owner)
        low = law.support()[0] if law.name != "normal" else None
        if low is not None and low < 0:
            raise fail(f"the value of {owner} can be negative ({law}): a bidder's value is at least 0",
                       node.distribution.span, hint="shift the distribution to a support in [0, ...)")
        return law

    def _objective(self, node: ast.ObjectiveDecl) -> AuctionObjective:
        if node.sense != "maximize":
            raise fail("an auction maximizes its objective", node.span, hint="write `maximize revenue`")
        expr = node.expr
        if isinstance(expr, ast.Name) and expr.name in ("revenue", "welfare"):
            return AuctionObjective(expr.name, 1.0 if expr.name == "revenue" else 0.0)
        if isinstance(expr, ast.Call) and expr.function == "mix":
            if len(expr.args) != 1:
                raise fail(f"mix(w) takes 1 argument (the weight of revenue), got {len(expr.args)}", expr.span)
            weight = self.numeric(expr.args[0], "the weight of mix(w)")
            if not 0 <= weight <= 1:
                raise fail(f"mix(w) needs 0 <= w <= 1, got {weight:g}", expr.args[0].span,
                           hint="w weighs revenue, 1 - w welfare")
            return AuctionObjective("mix", weight)
        word = expr.name if isinstance(expr, ast.Name) else expr.function if isinstance(expr, ast.Call) else ""
        raise fail("an auction's objective is revenue, welfare or mix(w)", expr.span,
                   hint=(did_you_mean(word, OBJECTIVES) if word else None)
                   or "write `maximize revenue`, `maximize welfare` or `maximize mix(0.5)`")

    # ================================================================ train block
    def _train(self, node: ast.TrainDecl) -> dict[str, object]:
        values: dict[str, object] = {}
        for item in node.items:
            if item.name not in AUCTION_TRAIN_SETTINGS:
                self._error(f"unknown training setting '{item.name}' of an auction_design spec", item.span,
                            hint=did_you_mean(item.name, AUCTION_TRAIN_SETTINGS)
                            or f"known: {', '.join(AUCTION_TRAIN_SETTINGS)}")
                continue
            value = self._attempt(self._auction_train_value, item)
            if value is not None:
                values[item.name] = value
        return values

    def _auction_train_value(self, item: ast.TrainItem) -> object:
        kind, low, high, description = AUCTION_TRAIN_SETTINGS[item.name]
        if kind is str:
            text = item.value if isinstance(item.value, str) else getattr(item.value, "name", None)
            if text not in AUCTION_ALGORITHMS:
                raise fail(f"unknown algorithm '{text}' for an auction_design spec" if text else
                           f"'{item.name}' takes a name ({description})", item.span,
                           hint=did_you_mean(text or "", AUCTION_ALGORITHMS) or f"choose one of: {', '.join(AUCTION_ALGORITHMS)}")
            return text
        if isinstance(item.value, str):
            raise fail(f"'{item.name}' takes a number ({description}), not a string", item.span)
        number = self.numeric(item.value, f"'{item.name}'")
        if kind is int:
            if number != int(number):
                raise fail(f"'{item.name}' takes a whole number, got {number:g}", item.span)
            number = int(number)
        if (low is not None and number < low) or (high is not None and number > high):
            raise fail(f"'{item.name}' = {number:g} is out of range [{low}, {high if high is not None else 'inf'}]",
                       item.span)
        return number


def check_auction_design(spec: ast.Spec, overrides: dict[str, float] | None = None) -> AuctionDesignModel:
    return AuctionDesignChecker(spec, dict(overrides or {})).check()
