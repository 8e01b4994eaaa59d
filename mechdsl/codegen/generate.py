"""Stage 5 of the pipeline: a checked model + its derivation -> a Python package.

`compile_spec(model, out_dir)` renders the Jinja2 templates in `templates/` into
`out_dir` (default `generated/<mechanism>/`): `env.py` (a batched torch environment
satisfying `mechdsl.rl.env.BatchedEnv`), `formulas.py` (the least-payment rules),
`train.py`, `spec.json`, `spec.mech`, `README.md` and `__init__.py`, plus the marker
`.mechdsl-generated` listing the files mechdsl wrote. Output is deterministic (no
timestamps, sorted iteration), written to a temporary folder first and moved into place;
files mechdsl did not write are never deleted, and a folder without the marker is only
written into with `force=True`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import jinja2
import sympy as sp

from mechdsl.cli.output import UsageError
from mechdsl.codegen.certificate import certificate_code
from mechdsl.codegen.layout import Layout, LayoutError, build_layout
from mechdsl.codegen.printer import (UnsafeIdentifier, check_identifier, emit_function_body, float_literal,
                                     print_expression)
from mechdsl.codegen.templating import CheckedEnvironment
from mechdsl.codegen.vectorize import vectorized_body
from mechdsl.model import Distribution, Model, ProbTable, RandomParam, TypeVector
from mechdsl.reduce import derive
from mechdsl.reduce.derivation import Derivation

MARKER = ".mechdsl-generated"
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
    """A Python literal for a template: strings via repr, numbers as float literals."""
    if isinstance(value, str):
        return repr(value)
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
    env.filters["py"] = _py
    env.filters["comment"] = lambda text: " ".join(str(text).split())  # one line, never code
    return env


# ------------------------------------------------------------------ sampling code
def _draw_code(d: Distribution) -> str:
    a = [float_literal(x) for x in d.args]
    if d.name == "uniform":
        return f"_uniform(shape, {a[0]}, {a[1]}, generator, device, dtype)"
    if d.name == "loguniform":
        return f"_loguniform(shape, {a[0]}, {a[1]}, generator, device, dtype)"
    if d.name == "normal":
        return f"_normal(shape, {a[0]}, {a[1]}, generator, device, dtype)"
    if d.name == "choice":
        return f"_choice(shape, ({', '.join(a)},), generator, device, dtype)"
    raise LayoutError(f"cannot draw a scalar from {d}")


@dataclass(frozen=True)
class SamplingBlock:
    """The code that fills the state columns of one state entity in `sample_states`.

    kind "random" (one scalar draw), "types" (one draw per type, sorted), "dirichlet" (rows
    of a probability table) or "fixed" (`table`: the entity's row-major values as a Python
    literal, repeated for every state). A dataclass, not a dict: a template reading a field
    it does not have fails instead of printing a dict method."""

    name: str
    kind: str
    draws: tuple[str, ...] = ()
    rows: int = 1
    width: int = 1
    alpha: str = ""
    table: str = ""


def _fixed_block(name: str, values, rows: int, width: int) -> SamplingBlock:
    return SamplingBlock(name, "fixed", rows=rows, width=width, table=_py(tuple(float(v) for v in values)))


def _sampling_blocks(model: Model) -> list[SamplingBlock]:
    """One block per state entity, in layout order, each filling consecutive columns."""
    blocks = []
    for entity in model.state_entities():
        if isinstance(entity, RandomParam):
            blocks.append(SamplingBlock(entity.name, "random", draws=(_draw_code(entity.distribution),)))
        elif isinstance(entity, TypeVector) and entity.values is not None:
            blocks.append(_fixed_block(entity.name, entity.values, 1, len(entity.values)))
        elif isinstance(entity, TypeVector):
            blocks.append(SamplingBlock(entity.name, "types", draws=tuple(_draw_code(d) for d in entity.distributions)))
        elif isinstance(entity, ProbTable):
            rows, width = (1 if len(entity.shape) == 1 else int(entity.shape[0])), int(entity.shape[-1])
            if entity.distribution is None:
                blocks.append(_fixed_block(entity.name, entity.values, rows, width))
                continue
            args = entity.distribution.args
            alpha = list(args) * (width if len(args) == 1 else 1)
            blocks.append(SamplingBlock(entity.name, "dirichlet", rows=rows, width=width,
                                        alpha=_py(tuple(float(x) for x in alpha))))
    return blocks


# ------------------------------------------------------------------ constants
def _folding(model: Model) -> dict[sp.Symbol, sp.Expr]:
    """Constant symbol -> its exact value, for every `param` constant and every `let` of
    constants only. Folded into all formulas at compile time, so the generated code does
    one tensor operation less per constant and never calls a torch function on a number.
    Values are the decimals the spec wrote (`Rational(repr(value))`), exact until printed."""
    fold: dict[sp.Symbol, sp.Expr] = {c.symbol(): sp.Rational(repr(float(c.value))) for c in model.constants.values()}
    for d in model.derived.values():  # the checker stores them in dependency order
        value = d.expr.xreplace(fold)
        if not value.free_symbols:
            fold[d.symbol()] = value
    return fold


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
def _action_map(layout: Layout) -> dict:
    """Raw action a in [-1, 1] -> allocation. Every entry first becomes
    lo + (hi - lo) d = mid + half a with d = (a + 1) / 2 (one `addcmul` for all entries);
    entries after the first of a monotone chain are then replaced by stick breaking,
    x_k = x_{k-1} + (hi - x_{k-1}) d_k, which is non-decreasing, within [lo, hi] and onto
    the monotone set."""
    names = layout.names
    chained = {s: chain for chain in layout.chains for s in chain.symbols}
    mid, half, targets, successors = [], [], [], []
    for column, symbol in enumerate(layout.action_symbols):
        lo, hi = layout.bounds[symbol]
        mid.append(lo + (hi - lo) / 2)
        half.append((hi - lo) / 2)
        chain = chained.get(symbol)
        if chain is not None and chain.symbols[0] != symbol:
            previous = names[chain.symbols[chain.symbols.index(symbol) - 1]]
            successors.append((names[symbol], f"{previous} + ({float_literal(hi)} - {previous}) * d[{column}]"))
            targets.append("_")
        else:
            targets.append(names[symbol])
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


def _payment_functions(derivation: Derivation, layout: Layout, fold: dict) -> list[PaymentFunction]:
    functions = []
    for symbol, rule in derivation.rules.items():
        target = layout.names[symbol]
        folded = rule.xreplace(fold)
        args = sorted(folded.free_symbols, key=lambda s: layout.names[s])
        body = emit_function_body([folded], {s: layout.names[s] for s in args})
        latex = sp.latex(rule).replace('"""', "'''")
        function = f"payment_{target[2:]}"
        arg_names = tuple(layout.names[s] for s in args)
        call = _per_sample(f"formulas.{function}({', '.join(arg_names)})", folded)
        functions.append(PaymentFunction(function, str(symbol), target, arg_names, latex,
                                         body.assignments, body.results[0], call))
    return functions


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
        "action_layout": [str(s) for s in layout.action_symbols],
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
            "action_layout": [str(s) for s in layout.action_symbols],
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
            "decision_locals": [names[s] for s in contract],
            "decision_targets": _targets([names[s] for s in contract]),
            "decision_lower": _py(tuple(float(v.lower) for v in model.variables.values() for _ in v.symbols())),
            "decision_upper": _py(tuple(float("inf") if v.upper is None else float(v.upper)
                                        for v in model.variables.values() for _ in v.symbols())),
            "objective": objective,
            "objective_result": _per_sample(objective.results[0], objective_expr),
            "maximize": model.objective.sense == "maximize",
            "action_penalty": float(model.train.get("action_penalty", 0.0) or 0.0),
            "algorithm": str(model.train.get("algorithm", "edmsac")),
            "certificate": certificate_code(model, layout, fold, contract),
        }
        context["spec_json"] = _spec_json(model, layout, derivation)
    except (UnsafeIdentifier, LayoutError) as error:
        raise UsageError(f"cannot compile {model.path}: {error}") from None
    env = _environment()
    files = {name: env.get_template(template).render(**context) for name, template in sorted(FILES.items())}
    files[MARKER] = env.get_template("marker.j2").render(files=sorted(files))
    return files


def _written_by_mechdsl(folder: Path) -> list[str] | None:
    marker = folder / MARKER
    if not marker.is_file():
        return None
    return [line.strip() for line in marker.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


def compile_spec(model: Model, out_dir: str | Path | None = None, force: bool = False,
                 derivation: Derivation | None = None, source: str | None = None) -> list[Path]:
    """Render and write the package (rules of `write_package`); returns the paths written."""
    out = Path(out_dir) if out_dir is not None else Path("generated") / model.name
    return write_package(out, lambda: render(model, derivation, source), force)


def write_package(out: Path, render_files: Callable[[], dict[str, str]], force: bool = False) -> list[Path]:
    """Write the files `render_files()` returns ({name: text}, the marker included) into `out`;
    returns the paths written (sorted). Shared by every spec kind's generator.

    Refuses (UsageError) to write into an existing folder without mechdsl's marker unless
    `force` (before rendering anything); never deletes a file it did not write (files listed in
    an earlier marker that are no longer generated are removed, nothing else). Files are
    staged in a temporary sibling folder and moved in with `os.replace`, the marker last."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a folder")
    previous = _written_by_mechdsl(out) if out.is_dir() else None
    if out.is_dir() and previous is None and any(out.iterdir()) and not force:
        raise UsageError(f"{out} exists and was not created by mechdsl (no {MARKER} file); refusing to write into it",
                         hint="choose another folder with -o, or pass --force to write mechdsl's files into it "
                              "(other files are kept)")
    files = render_files()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, text in files.items():
            (staging / name).write_text(text, encoding="utf-8", newline="\n")
        if not out.exists():
            os.replace(staging, out)
        else:
            for name in sorted(files, key=lambda n: n == MARKER):  # marker last
                os.replace(staging / name, out / name)
            for stale in sorted(set(previous or []) - set(files)):
                if (out / stale).is_file() and "/" not in stale and stale != MARKER:
                    (out / stale).unlink()
    finally:
        if staging.exists():
            shutil.rmtree(staging)  # only our own temporary folder
    return sorted(out / name for name in files)


__all__ = ["MARKER", "compile_spec", "render", "write_package"]
