"""Stage 5 of the pipeline: a checked model + its derivation -> a Python package.

`compile_spec(model, out_dir)` renders the Jinja2 templates in `templates/` into
`out_dir` (default `generated/<mechanism>/`): `env.py` (a batched torch environment
satisfying `mechdsl.rl.env.BatchedEnv`), `formulas.py` (the least-payment rules),
`train.py`, `spec.json`, `spec.mech`, `README.md` and `__init__.py`, plus the marker
`.mechdsl-generated` listing the files mechdsl wrote. Output is deterministic (no
timestamps, sorted iteration). `mechdsl.codegen.package_write` writes it (shared by every
kind): all or nothing, through a staging folder swapped in beside the target; files
mechdsl did not write are never deleted, and a folder without the marker is only written
into with `force=True`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

import jinja2
import sympy as sp

from mechdsl.errors import CompileError, UsageError
from mechdsl.codegen.certificate import certificate_code
from mechdsl.codegen.layout import Layout, LayoutError, build_layout
from mechdsl.codegen.package_write import (MARKER, PackageWrite, check_target, plan_package_write,
                                          write_package)
from mechdsl.codegen.printer import (UnsafeIdentifier, check_identifier, emit_function_body, float_literal,
                                     print_expression)
from mechdsl.codegen.templating import CheckedEnvironment, render_package, string_literal
from mechdsl.codegen.vectorize import vectorized_body
from mechdsl.model import Model, exact_constants
from mechdsl.reduce import derive
from mechdsl.reduce.derivation import Derivation
from mechdsl.runtime import sampling
from mechdsl.solve.state import state_block

TEMPLATES = Path(__file__).parent / "templates"
FILES = {  # output file -> template
    "__init__.py": "init.py.j2",
    "env.py": "env.py.j2",
    "formulas.py": "formulas.py.j2",
    "train.py": "train.py.j2",
    "spec.json": "spec.json.j2",
    "spec.mech": "spec.mech.j2",
    "README.md": "README.md.j2",
}


def _py(value) -> str:
    """A Python literal for a template: strings by `templating.string_literal`, numbers as
    float literals."""
    if isinstance(value, str):
        return string_literal(value)
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, (int, float)):
        return float_literal(value)
    if isinstance(value, (tuple, list)):
        inner = ", ".join(_py(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    raise TypeError(f"no Python literal for {value!r}")


def _environment() -> jinja2.Environment:
    """Every generator's Jinja environment: dicts read by key only, strict undefined names and
    every rendered file checked before it can be written (`mechdsl.codegen.templating`)."""
    env = CheckedEnvironment(TEMPLATES, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["py"] = _py  # `string_body` and `comment` come with every CheckedEnvironment
    return env


# ------------------------------------------------------------------ sampling code
def sampling_code(block: sampling.Block) -> str:
    """Python source of a `mechdsl.runtime.sampling` block, its fields as literals (counts as
    integers, numbers as float literals): `sampling.Scalar('uniform', (1.0, 2.0))`."""
    def literal(value) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            return repr(value)
        if isinstance(value, tuple) and value and isinstance(value[0], tuple):
            return "(" + ", ".join(literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
        return _py(value)

    arguments = ", ".join(literal(getattr(block, field.name)) for field in fields(block))
    return f"sampling.{type(block).__name__}({arguments})"


def _sampling_blocks(model: Model) -> list[tuple[str, str]]:
    """(entity name, code of its `mechdsl.runtime.sampling` block) per state entity, in
    layout order; `mechdsl.solve.state.state_block` says which block an entity is."""
    blocks = []
    for entity in model.state_entities():
        block = state_block(entity)
        draws = [(block.distribution, block.args)] if isinstance(block, sampling.Scalar) else getattr(
            block, "distributions", ())
        for name, args in draws:
            if name not in sampling.SCALAR_DISTRIBUTIONS:
                raise LayoutError(f"cannot draw a scalar from {name}{args} ({entity.name})")
        blocks.append((entity.name, sampling_code(block)))
    return blocks


# ------------------------------------------------------------------ constants
def _folding(model: Model) -> dict[sp.Symbol, sp.Expr]:
    """Constant symbol -> its exact value, for every `param` constant and every `let` of
    constants only. Folded into all formulas at compile time, so the generated code does
    one tensor operation less per constant and never calls a torch function on a number.
    Values are the decimals the spec wrote (`Rational(repr(value))`), exact until printed."""
    return exact_constants(model.constants, model.derived)  # the checker stores lets in dependency order


def _derived_statements(model: Model, fold: dict, names: dict) -> list[tuple[str, str, str]]:
    """(local, code, spec formula) of every `let` that depends on the state."""
    return [(names[d.symbol()], print_expression(d.expr.xreplace(fold), names), f"{d.name} = {d.expr}")
            for d in model.derived.values() if d.symbol() not in fold]


def _per_sample(code: str, expr: sp.Expr) -> str:
    """Code of a (B,) tensor: `code` itself unless `expr` is a number (then filled)."""
    return code if expr.free_symbols else f"_per_sample({code}, rows)"


def _targets(names: list[str]) -> str:
    """Left side of a tuple assignment from `unbind` (a trailing comma for one name)."""
    return ", ".join(names) + ("," if len(names) == 1 else "")


# ------------------------------------------------------------------ action map
def _chain_predecessors(layout: Layout) -> dict[sp.Symbol, sp.Symbol]:
    """Each allocation after the first of a monotone chain -> the entry before it."""
    return {b: a for chain in layout.chains for a, b in zip(chain.symbols, chain.symbols[1:])}


def _action_map(layout: Layout) -> dict:
    """Raw action a in [-1, 1] -> allocation. Every entry first becomes
    lo + (hi - lo) d = mid + half a with d = (a + 1) / 2 (one `addcmul` for all entries);
    entries after the first of a monotone chain are then replaced by stick breaking,
    x_k = x_{k-1} + (hi - x_{k-1}) d_k, which is non-decreasing, within [lo, hi] and onto
    the monotone set. Stick breaking runs in chain order, which is not the column order when
    allocations fall with the type (cost types: x[2] <= x[1] <= x[0])."""
    names = layout.names
    predecessor = _chain_predecessors(layout)
    mid, half, targets = [], [], []
    for column, symbol in enumerate(layout.action_symbols):
        lo, hi = layout.bounds[symbol]
        mid.append(lo + (hi - lo) / 2)
        half.append((hi - lo) / 2)
        targets.append("_" if symbol in predecessor else names[symbol])
    column_of = {symbol: column for column, symbol in enumerate(layout.action_symbols)}
    successors = []
    for chain in layout.chains:
        for previous, symbol in zip(chain.symbols, chain.symbols[1:]):
            hi = float_literal(layout.bounds[symbol][1])
            successors.append((names[symbol], f"{names[previous]} + ({hi} - {names[previous]}) * d[{column_of[symbol]}]"))
    locals_ = [names[symbol] for symbol in layout.action_symbols]
    return {"mid": _py(tuple(mid)), "half": _py(tuple(half)), "targets": _targets(targets), "successors": successors,
            "locals": locals_, "all_targets": _targets(locals_)}


def _pool_groups(model: Model, layout: Layout) -> str:
    """Per action entry, the index of its allocation variable: the pooled reference menu of
    the feasibility repair replaces each allocation's entries by their mean."""
    owner = {symbol: i for i, variable in enumerate(model.variables.values()) for symbol in variable.symbols()}
    return _py(tuple(owner[symbol] for symbol in layout.action_symbols))


# ------------------------------------------------------------------ payments
@dataclass(frozen=True)
class PaymentFunction:
    function: str
    symbol: str
    target: str
    args: tuple[str, ...]
    latex: str
    assignments: tuple[tuple[str, str], ...]
    result: str
    call: str  # env code of the (B,) payment
    doc: str = "Least payment for {symbol} (the binding IR/IC constraint solved for it)."


def _folded(expr: sp.Expr, fold: dict) -> sp.Expr:
    """`expr.xreplace(fold)` that rebuilds Max and Min unevaluated. `xreplace` rebuilds every node
    evaluated, and an evaluated Max compares its arguments pairwise to drop the dominated ones
    (`factor_terms` on each difference), which was most of compiling a derivation's payment
    rules: specs/two_period.mech at K = 5 compiled in 12.1 s, 6.7 s without it (9.4 s / 5.9 s in
    another run), to the same files. The unevaluated Max keeps the arguments the evaluated one
    would drop as dominated: the same function. cse may then share other subexpressions
    (examples/three_period.mech: 1/theta then a product, where it was the quotient at once)."""
    if expr in fold:
        return fold[expr]
    if not expr.args:
        return expr
    args = [_folded(a, fold) for a in expr.args]
    if isinstance(expr, (sp.Max, sp.Min)):
        return expr.func(*args, evaluate=False)
    return expr.func(*args)


def _torch_function(function: str, symbol: sp.Symbol, expr: sp.Expr, layout: Layout, fold: dict,
                    doc: str | None = None) -> PaymentFunction:
    """A formulas.py function of `expr` (constants folded) and the env code that calls it."""
    folded = _folded(expr, fold)
    args = sorted(folded.free_symbols, key=lambda s: layout.names[s])
    body = emit_function_body([folded], {s: layout.names[s] for s in args})
    latex = sp.latex(expr).replace('"""', "'''")
    arg_names = tuple(layout.names[s] for s in args)
    call = _per_sample(f"formulas.{function}({', '.join(arg_names)})", folded)
    extra = {} if doc is None else {"doc": doc}
    return PaymentFunction(function, str(symbol), layout.names[symbol], arg_names, latex, body.assignments,
                           body.results[0], call, **extra)


def _payment_functions(derivation: Derivation, layout: Layout, fold: dict) -> list[PaymentFunction]:
    return [_torch_function(f"payment_{layout.names[symbol][2:]}", symbol, rule, layout, fold)
            for symbol, rule in derivation.rules.items()]


@dataclass(frozen=True)
class RangedPayment:
    """A payment placed in its feasible range [floor, ceiling] (`mechdsl.reduce.payment_ranges`)."""

    symbol: str
    target: str
    floor: PaymentFunction
    ceiling: PaymentFunction | None
    scale: PaymentFunction | None  # floor + scale d^2 when there is no ceiling
    slack: int | None               # index of the payment's slack among the slack action entries


def _ranged_payments(derivation: Derivation, layout: Layout, fold: dict) -> list[RangedPayment]:
    """Empty unless some payment has a slack: then every payment is evaluated from its range,
    with the later and earlier payments as they actually are (slack included)."""
    ranges = derivation.payment_ranges
    if not any(r.slack for r in ranges.values()):
        return []
    slack_index = {symbol: k for k, symbol in enumerate(layout.slack_symbols)}
    out = []
    for symbol, r in ranges.items():
        name = layout.names[symbol][2:]
        floor = _torch_function(f"floor_{name}", symbol, r.floor, layout, fold,
                                f"Least payment for {symbol} given every other item (IR and downward IC/IIC).")
        ceiling = None if r.ceiling is None else _torch_function(
            f"ceiling_{name}", symbol, r.ceiling, layout, fold,
            f"Largest payment for {symbol} that no lower type would take (upward IC/IIC and bounds).")
        scale = None
        if r.slack and r.ceiling is None:
            scale = _torch_function(f"scale_{name}", symbol, r.scale, layout, fold,
                                    f"Span of the slack of {symbol}: payment = floor + scale d^2 / (1 - d^2), d in [0, 1].")
        out.append(RangedPayment(str(symbol), layout.names[symbol], floor, ceiling, scale,
                                 slack_index.get(symbol)))
    return out


def _action_inverse(layout: Layout) -> list[tuple[int, str]]:
    """(action column, code of d in [0, 1]) inverting `_action_map` for the allocations:
    d = (x - lo) / (hi - lo), or d_k = (x_k - x_{k-1}) / (hi - x_{k-1}) along a chain."""
    names = layout.names
    predecessor = _chain_predecessors(layout)
    out = []
    for column, symbol in enumerate(layout.action_symbols):
        lo, hi = layout.bounds[symbol]
        x = names[symbol]
        if symbol in predecessor:
            previous = names[predecessor[symbol]]
            out.append((column, f"_fraction({x} - {previous}, {float_literal(hi)} - {previous})"))
        else:
            out.append((column, f"(({x} - {float_literal(lo)}) / {float_literal(hi - lo)}).clamp(0.0, 1.0)"))
    return out


def _payments_enter_linearly(model: Model) -> bool:
    """True when the utility and the objective are affine in every payment (payments then enter
    every constraint linearly and the repair can solve a linear program in the payments)."""
    u = model.utility
    if sp.diff(u.expr, u.payment_symbol, 2) != 0:
        return False
    payments = [s for v in model.variables.values() if v.kind == "payment" for s in v.symbols()]
    objective = model.objective.expr
    return all(sp.diff(objective, a, b) == 0 for a in payments for b in payments)


# ------------------------------------------------------------------ spec.json
def _spec_json(model: Model, layout: Layout, derivation: Derivation) -> str:
    def dist(d):
        return None if d is None else {"name": d.name, "args": [float(a) for a in d.args]}

    data = {
        "mechanism": model.name,
        "source": Path(model.path).name,
        "sizes": dict(sorted(model.sizes.items())),
        "principal": model.principal,
        "agent": model.agent,
        "constants": {n: float(c.value) for n, c in sorted(model.constants.items())},
        "random_parameters": {n: dist(r.distribution) for n, r in sorted(model.randoms.items())},
        "derived": {n: str(d.expr) for n, d in model.derived.items()},
        "types": {n: [dist(d) for d in t.distributions] if t.values is None else [{"value": v} for v in t.values]
                  for n, t in sorted(model.types.items())},
        "probabilities": {n: {"shape": list(p.shape), "distribution": dist(p.distribution),
                              "values": None if p.values is None else [float(v) for v in p.values]}
                          for n, p in sorted(model.probs.items())},
        "variables": {n: {"kind": v.kind, "shape": list(v.shape), "lower": float(v.lower),
                          "upper": None if v.upper is None else float(v.upper),
                          **({"paid_by": model.agent if v.flow < 0 else model.principal}
                             if v.kind == "payment" else {})}
                      for n, v in model.variables.items()},
        "objective": {"sense": model.objective.sense, "expr": str(model.objective.expr)},
        "constraints": [c.text for c in model.constraints],
        "train": {k: model.train[k] for k in sorted(model.train)},
        "state_layout": [str(s) for s in layout.state_symbols],
        "action_layout": layout.action_names(),
        "payment_ranges": {str(k): r.describe() for k, r in derivation.payment_ranges.items()},
        "payment_rules": {str(k): str(v) for k, v in derivation.rules.items()},
        "monotone_chains": [[str(s) for s in c.symbols] for c in layout.chains],
    }
    return json.dumps(data, indent=2, sort_keys=False, default=str)


# ------------------------------------------------------------------ rendering
def _class_name(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part) + "Env"


def render(model: Model, derivation: Derivation | None = None, source: str | None = None) -> dict[str, str]:
    """file name -> text of every generated file (no I/O besides reading templates)."""
    try:
        check_identifier(model.name)
        derivation = derivation or derive(model)
        layout = build_layout(model, derivation)
        names = layout.names
        fold = _folding(model)
        contract = model.decision_symbols()
        objective_expr = model.objective.expr.xreplace(fold)
        views = {**{sym: ("rows", k) for k, sym in enumerate(layout.state_symbols)},
                 **{sym: ("decisions", k) for k, sym in enumerate(contract)}}
        objective = vectorized_body(objective_expr, names, views, prefix="obj")
        derived = _derived_statements(model, fold, names)
        state_locals = [names[s] for s in layout.state_symbols]
        context = {
            "model": model,
            "mechanism": model.name,
            "class_name": _class_name(model.name),
            "source_name": Path(model.path).name,
            "source": source if source is not None else Path(model.path).read_text(encoding="utf-8"),
            "state_layout": [str(s) for s in layout.state_symbols],
            "action_layout": layout.action_names(),
            "allocation_layout": [str(s) for s in layout.action_symbols],
            "ranged": (ranged := _ranged_payments(derivation, layout, fold)),
            "ranged_functions": [f for r in ranged for f in (r.floor, r.ceiling, r.scale) if f is not None],
            "unbounded_slacks": repr(tuple(len(layout.action_symbols) + r.slack for r in ranged
                                           if r.slack is not None and r.ceiling is None)),
            "action_inverse": _action_inverse(layout),
            "payment_columns": repr(tuple(contract.index(s) for s in layout.payment_symbols)),
            "payments_linear": _payments_enter_linearly(model),  # chooses the repair's LP branch
            "payment_flow": repr(int(model.payment_flow)),
            "contract_layout": [str(s) for s in contract],
            "state_low": layout.state_low,
            "state_high": layout.state_high,
            "state_targets": _targets(state_locals),
            "quantities": state_locals + [local for local, _, _ in derived],
            "constants": [(name, float(c.value)) for name, c in model.constants.items()],
            "sizes": sorted(model.sizes.items()),
            "derived": derived,
            "sampling": _sampling_blocks(model),
            "actions": _action_map(layout),
            "pool_groups": _pool_groups(model, layout),
            "chains": [[str(s) for s in c.symbols] for c in layout.chains],
            "payments": _payment_functions(derivation, layout, fold),
            "numeric_roots": [str(s) for s in derivation.numeric_payments],  # formulas.py imports payment_root
            "decision_locals": [names[s] for s in contract],
            "decision_targets": _targets([names[s] for s in contract]),
            "decision_lower": _py(tuple(float(v.lower) for v in model.variables.values() for _ in v.symbols())),
            "decision_upper": _py(tuple(float("inf") if v.upper is None else float(v.upper)
                                        for v in model.variables.values() for _ in v.symbols())),
            "objective": objective,
            "objective_result": _per_sample(objective.results[0], objective_expr),
            "maximize": model.objective.sense == "maximize",
            "action_penalty": float(model.train.get("action_penalty", 0.0) or 0.0),
            "payment_mode": str(model.train.get("payments", "auto")),
            "algorithm": str(model.train.get("algorithm", "edmsac")),
            "certificate": certificate_code(model, layout, fold, contract),
        }
        context["spec_json"] = _spec_json(model, layout, derivation)
        if (context["payment_mode"] == "optimal" and not context["payments_linear"]
                and len(context["action_layout"]) > len(context["allocation_layout"])):
            raise CompileError(f"cannot compile {model.path}: `payments = optimal` needs payments that enter the "
                             "utility and the objective affinely (a linear program in the payments)",
                             hint="use `payments = action` (slack entries in the action) in the train block")
    except (UnsafeIdentifier, LayoutError) as error:
        raise UsageError(f"cannot compile {model.path}: {error}") from None
    return render_package(_environment(), FILES, context)


def compile_spec(model: Model, out_dir: str | Path | None = None, force: bool = False,
                 derivation: Derivation | None = None, source: str | None = None) -> list[Path]:
    """Render and write the package (rules of `write_package`); returns the paths written."""
    out = Path(out_dir) if out_dir is not None else Path("generated") / model.name
    return write_package(out, lambda: render(model, derivation, source), force)


__all__ = ["MARKER", "PackageWrite", "check_target", "compile_spec", "plan_package_write", "render", "write_package"]
