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

import jinja2
import sympy as sp

from mechdsl.cli.output import UsageError
from mechdsl.codegen.layout import Layout, LayoutError, build_layout
from mechdsl.codegen.printer import UnsafeIdentifier, check_identifier, emit_function_body, float_literal, print_expression
from mechdsl.model import Distribution, Model, ProbTable, RandomParam, TypeVector, all_indices
from mechdsl.reduce import derive
from mechdsl.reduce.derivation import Derivation
from mechdsl.reduce.structure import Screening

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
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True, autoescape=False)
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


def _sampling_blocks(model: Model) -> list[dict]:
    """One block per state entity, in layout order, each filling consecutive columns."""
    blocks, column = [], 0
    for entity in model.state_entities():
        width = len(entity.symbols())
        block = {"name": entity.name, "start": column, "stop": column + width}
        if isinstance(entity, RandomParam):
            block.update(kind="random", draws=[_draw_code(entity.distribution)] * width)
        elif isinstance(entity, TypeVector):
            block.update(kind="types", draws=[_draw_code(d) for d in entity.distributions])
        elif isinstance(entity, ProbTable):
            rows = 1 if len(entity.shape) == 1 else int(entity.shape[0])
            block.update(rows=rows, width=int(entity.shape[-1]))
            if entity.distribution is not None:
                alpha = list(entity.distribution.args) * (entity.shape[-1] if len(entity.distribution.args) == 1 else 1)
                block.update(kind="dirichlet", alpha=_py(tuple(float(x) for x in alpha)))
            else:
                block.update(kind="fixed", values=_py(tuple(float(v) for v in entity.values)))
        blocks.append(block)
        column += width
    return blocks


# ------------------------------------------------------------------ action map
def _action_statements(layout: Layout) -> list[tuple[str, str]]:
    """Raw action a in [-1, 1] -> allocation. Chained entries use stick breaking:
    x_0 = lo + (hi - lo) d_0, x_k = x_{k-1} + (hi - x_{k-1}) d_k with d = (a + 1) / 2, which
    is non-decreasing, within [lo, hi] and onto the monotone set."""
    column = {s: k for k, s in enumerate(layout.action_symbols)}
    chained = {s: chain for chain in layout.chains for s in chain.symbols}
    statements = []
    for symbol in layout.action_symbols:
        d = f"0.5 * (a[:, {column[symbol]}] + 1.0)"
        lo, hi = layout.bounds[symbol]
        chain = chained.get(symbol)
        if chain is not None and chain.symbols[0] != symbol:
            previous = layout.names[chain.symbols[chain.symbols.index(symbol) - 1]]
            code = f"{previous} + ({float_literal(hi)} - {previous}) * ({d})"
        else:
            code = f"{float_literal(lo)} + {float_literal(hi - lo)} * ({d})"
        statements.append((layout.names[symbol], code))
    return statements


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


def _payment_functions(derivation: Derivation, layout: Layout) -> list[PaymentFunction]:
    functions = []
    for symbol, rule in derivation.rules.items():
        target = layout.names[symbol]
        args = sorted(rule.free_symbols, key=lambda s: layout.names[s])
        body = emit_function_body([rule], {s: layout.names[s] for s in args})
        latex = sp.latex(rule).replace('"""', "'''")
        functions.append(PaymentFunction(f"payment_{target[2:]}", str(symbol), target,
                                         tuple(layout.names[s] for s in args), latex,
                                         body.assignments, body.results[0]))
    return functions


# ------------------------------------------------------------------ original constraints
def _h(h: tuple[int, ...]) -> str:
    return "_".join(map(str, h))


def _certificate(model: Model, layout: Layout) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]]]:
    """Port of `mechdsl.solve.certificate.certify`: statements computing per-period
    utilities u_t(i; h, r), continuations with OPTIMAL later play
        C*(t, i, h, r) = delta_{t+1} sum_j P_{t+1}(j | i) max_{r'} [u_{t+1}(j; h r, r') + C*(...)],
    and the slack of every original constraint. Returns (statements, slacks, utilities)."""
    s = Screening(model)
    names = dict(layout.names)
    statements: list[tuple[str, str]] = []
    util, cont, best = {}, {}, {}
    for t in range(s.periods, 0, -1):
        for h in s.histories(t):
            for i in range(s.K):
                options = []
                for r in range(s.K):
                    u_name = f"u_t{t}_h{_h(h)}_i{i}_r{r}"
                    statements.append((u_name, print_expression(s.u(t, i, h, r), names)))
                    util[t, i, h, r] = u_name
                    if t == s.periods:
                        cont[t, i, h, r] = None
                        options.append(u_name)
                        continue
                    total = sp.Integer(0)
                    for j in range(s.K):
                        b = sp.Symbol(best[t + 1, h + (r,), j], real=True)
                        names[b] = b.name
                        total += s.prob(t + 1, i, j) * b
                    c_name = f"c_t{t}_h{_h(h)}_i{i}_r{r}"
                    statements.append((c_name, print_expression(s.discount(t + 1) * total, names)))
                    cont[t, i, h, r] = c_name
                    options.append(f"{u_name} + {c_name}")
                best_name = f"best_t{t}_h{_h(h)}_i{i}"
                statements.append((best_name, f"torch.stack([{', '.join(options)}], 0).amax(0)"))
                best[t, h, i] = best_name

    def value(t, i, h, r):
        return util[t, i, h, r] if cont[t, i, h, r] is None else f"({util[t, i, h, r]} + {cont[t, i, h, r]})"

    slacks: list[tuple[str, str]] = []
    utilities: list[tuple[str, str]] = []
    lifetime = model.ir_scope() == "lifetime"
    for t in range(1, s.periods + 1):
        for h in s.histories(t):
            where = f"period {t}" + (f" after reports {list(h)}" if h else "")
            for i in range(s.K):
                utilities.append((f"u{t}[{', '.join(map(str, h + (i,)))}]", util[t, i, h, i]))
                if not lifetime:
                    slacks.append((f"IR {where}, type {i}", util[t, i, h, i]))
                elif t == 1:
                    slacks.append((f"lifetime IR, type {i}", value(t, i, h, i)))
                for r in range(s.K):
                    if r != i:
                        kind = "IIC" if t < s.periods else "IC"
                        slacks.append((f"{kind} {where}: type {i} vs report {r}",
                                       f"{value(t, i, h, i)} - {value(t, i, h, r)}"))
    for variable in model.variables.values():
        for symbol in variable.symbols():
            slacks.append((f"{symbol} >= {variable.lower:g}", f"{layout.names[symbol]} - {float_literal(variable.lower)}"))
            if variable.upper is not None:
                slacks.append((f"{symbol} <= {variable.upper:g}", f"{float_literal(variable.upper)} - {layout.names[symbol]}"))
    for c in model.constraints:
        if c.kind == "monotone":
            for name in c.names:
                var = model.variables[name]
                for index in all_indices(var.shape):
                    if index[-1] > 0:
                        prev = index[:-1] + (index[-1] - 1,)
                        slacks.append((f"monotone {name}{list(index)}",
                                       f"{layout.names[var.symbol(*index)]} - {layout.names[var.symbol(*prev)]}"))
        elif c.kind == "plain":
            for g, op in c.instances:
                code = print_expression(g, names)
                slacks.append((f"line {c.line}: {c.text}", code if op == ">=" else f"-torch.abs({code})"))
    return statements, slacks, utilities


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
        "types": {n: [dist(d) for d in t.distributions] for n, t in sorted(model.types.items())},
        "probabilities": {n: {"shape": list(p.shape), "distribution": dist(p.distribution),
                              "values": None if p.values is None else [float(v) for v in p.values]}
                          for n, p in sorted(model.probs.items())},
        "variables": {n: {"kind": v.kind, "shape": list(v.shape), "lower": float(v.lower),
                          "upper": None if v.upper is None else float(v.upper)}
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
        objective = emit_function_body([model.objective.expr], names, prefix="obj")
        context = {
            "model": model,
            "mechanism": model.name,
            "class_name": _class_name(model.name),
            "source_name": Path(model.path).name,
            "source": source if source is not None else Path(model.path).read_text(encoding="utf-8"),
            "state_layout": [str(s) for s in layout.state_symbols],
            "action_layout": [str(s) for s in layout.action_symbols],
            "contract_layout": [str(s) for v in model.variables.values() for s in v.symbols()],
            "state_low": layout.state_low,
            "state_high": layout.state_high,
            "state_columns": [(names[s], k) for k, s in enumerate(layout.state_symbols)],
            "constants": [(names[c.symbol()], name, float(c.value)) for name, c in model.constants.items()],
            "derived": [(names[d.symbol()], print_expression(d.expr, names)) for d in model.derived.values()],
            "sampling": _sampling_blocks(model),
            "actions": _action_statements(layout),
            "chains": [[str(s) for s in c.symbols] for c in layout.chains],
            "payments": _payment_functions(derivation, layout),
            "decisions": [(str(s), names[s]) for v in model.variables.values() for s in v.symbols()],
            "objective": objective,
            "maximize": model.objective.sense == "maximize",
            "action_penalty": float(model.train.get("action_penalty", 0.0) or 0.0),
            "algorithm": str(model.train.get("algorithm", "edmsac")),
        }
        context["certificate"], context["slacks"], context["utilities"] = _certificate(model, layout)
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
    """Render and write the package; returns the paths written (sorted).

    Refuses (UsageError) to write into an existing folder without mechdsl's marker unless
    `force`; never deletes a file it did not write (files listed in an earlier marker that
    are no longer generated are removed, nothing else)."""
    out = Path(out_dir) if out_dir is not None else Path("generated") / model.name
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a folder")
    previous = _written_by_mechdsl(out) if out.is_dir() else None
    if out.is_dir() and previous is None and any(out.iterdir()) and not force:
        raise UsageError(f"{out} exists and was not created by mechdsl (no {MARKER} file); refusing to write into it",
                         hint="choose another folder with -o, or pass --force to write mechdsl's files into it "
                              "(other files are kept)")
    files = render(model, derivation, source)
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


__all__ = ["MARKER", "compile_spec", "render"]
