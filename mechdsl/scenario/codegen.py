"""Code generation for scenarios: `ScenarioModel` -> a batched multi-slot torch env package.

`compile_scenario(model, out_dir)` renders `templates/scenario_*.j2` into `out_dir`
(default `generated/<scenario>/`): `env.py` (satisfies `mechdsl.rl.env.BatchedEnv` with
horizon > 1), `__init__.py`, `spec.mech`, `README.md` and the `.mechdsl-generated` marker.
Writing reuses the contract generator's rules (deterministic text, staging folder, marker
guard, never deleting files mechdsl did not write).

Formulas: constants are folded in exactly; each named intermediate `f(2, 1)` is printed
once, in dependency order; the per-slot outputs (reward, constraint excesses, metrics,
deterministic next states, arguments of random draws) share one `sympy.cse` pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import sympy as sp

from mechdsl.errors import UsageError
from mechdsl.codegen import generate
from mechdsl.codegen.printer import TensorPrinter, UnsafeIdentifier, check_identifier, emit_function_body, float_literal
from mechdsl.scenario.model import SLOT, Draw, ScenarioModel

FILES = {"__init__.py": "scenario_init.py.j2", "env.py": "scenario_env.py.j2", "spec.mech": "scenario_spec.mech.j2",
         "README.md": "scenario_README.md.j2"}


class ScenarioPrinter(TensorPrinter):
    """`TensorPrinter` plus the scenario functions: mod -> torch.remainder (sign of the
    divisor, unlike fmod), floor -> torch.floor."""

    def _print_Mod(self, expr):
        a, b = expr.args
        return f"torch.remainder({self._print(a)}, {self._print(b)})"

    def _print_floor(self, expr):
        return f"torch.floor({self._print(expr.args[0])})"


def _print(expr: sp.Expr, names: dict) -> str:
    if expr.is_number:
        return float_literal(sp.N(expr, 17))
    return ScenarioPrinter(names).doprint(expr)


def _local(prefix: str, symbol_name: str) -> str:
    """`rep[2, 1]` -> `s_rep_2_1`; `T_tot(3)` -> `f_T_tot_3`."""
    return check_identifier(prefix + "_" + "_".join(p for p in re.split(r"[^A-Za-z0-9_]+", symbol_name) if p))


def _names(model: ScenarioModel) -> dict[sp.Symbol, str]:
    names: dict[sp.Symbol, str] = {}
    taken: set[str] = set()
    groups = [("s", model.state_symbols()), ("d", model.decision_symbols()), ("f", list(model.intermediates))]
    for prefix, symbols in groups:
        for k, symbol in enumerate(symbols):
            local = _local(prefix, symbol.name)
            if local in taken:
                local = f"{prefix}{k}_{local}"
            taken.add(local)
            names[symbol] = local
    return names


def _reachable(exprs, intermediates: dict[sp.Symbol, sp.Expr]) -> list[sp.Symbol]:
    """The intermediates `exprs` need, in dependency (definition) order."""
    needed: set[sp.Symbol] = set()
    stack = [s for e in exprs for s in e.free_symbols if s in intermediates]
    while stack:
        symbol = stack.pop()
        if symbol not in needed:
            needed.add(symbol)
            stack.extend(s for s in intermediates[symbol].free_symbols if s in intermediates)
    return [s for s in intermediates if s in needed]


@dataclass(frozen=True)
class _Draw:
    target: str
    code: str


def _draw_code(draw: Draw, args: list[str]) -> str:
    if draw.name == "uniform":
        return f"_uniform({args[0]}, {args[1]}, like, generator)"
    if draw.name == "normal":
        return f"_normal({args[0]}, {args[1]}, like, generator)"
    return f"_bernoulli({args[0]}, like, generator)"


def _initial_code(model: ScenarioModel, fold: dict, inter: dict, names: dict) -> list[str]:
    """Statements computing every state column's initial value, in declaration order."""
    lines, emitted = [], set()
    for state in model.states.values():
        lines.append(f"# {state.name}{list(state.shape) if state.shape else ''}")
        exprs = [x.args if isinstance(x, Draw) else (x,) for x in state.init]
        for symbol in _reachable([e.xreplace(fold) for group in exprs for e in group], inter):
            if symbol not in emitted:
                emitted.add(symbol)
                lines.append(f"{names[symbol]} = {_print(inter[symbol], names)}  # {symbol.name}")
        for symbol, init in zip(state.symbols(), state.init):
            if isinstance(init, Draw):
                args = [_print(a.xreplace(fold), names) for a in init.args]
                lines.append(f"{names[symbol]} = {_draw_code(init, args)}")
            else:
                lines.append(f"{names[symbol]} = _column({_print(init.xreplace(fold), names)}, like)")
    lines.append(f"{names[sp.Symbol(SLOT, real=True)]} = _column(0.0, like)")
    return lines


def _action_blocks(model: ScenarioModel, fold: dict, names: dict) -> list[dict]:
    blocks, start = [], 0
    for action in model.actions.values():
        width = len(action.symbols())
        block = {"name": action.name, "kind": action.kind, "start": start, "stop": start + width,
                 "shape": tuple(action.shape), "axis": None if action.axis is None else action.axis + 1,
                 "level": float_literal(action.level) if action.level is not None else None,
                 "lower": float_literal(action.lower), "span": float_literal(action.upper - action.lower),
                 "mask": None, "choice": action.is_choice}
        if action.mask is not None:
            block["mask"] = [_print(e.xreplace(fold), names) for e in action.mask]
        if action.is_choice:
            rows, entries = action.rows_and_entries()
            moved = tuple(n for i, n in enumerate(action.shape) if i != action.axis) + (entries,)
            block.update(rows=rows, entries=entries, moved_shape=moved, capacity=action.capacity,
                         masked=action.qualify is not None)
        blocks.append(block)
        start += width
    return blocks


def _choice_rules_code(model: ScenarioModel, fold: dict, inter: dict, names: dict) -> dict:
    """Bodies of `qualifying(state)` and `fallback_preferences(state)`: the intermediates the
    masks and fallbacks read, then one stacked tensor per masked choice."""
    def code(exprs_of) -> dict:
        choices = [a for a in model.actions.values() if a.qualify is not None]
        exprs = {a.name: [e.xreplace(fold) for e in exprs_of(a)] for a in choices}
        needed = _reachable([e for group in exprs.values() for e in group], inter)
        return {"intermediates": [(names[x], _print(inter[x], names), x.name) for x in needed],
                "choices": [{"name": a.name, "codes": [_print(e, names) for e in exprs[a.name]],
                             "shape": tuple(a.shape), "axis": a.axis + 1, "strict": a.qualify_strict,
                             "rows_entries": a.rows_and_entries()} for a in choices]}
    return {"qualify": code(lambda a: a.qualify), "fallback": code(lambda a: a.fallback)}


def _constraint_table(model: ScenarioModel) -> list[dict]:
    table = []
    for c in model.constraints:
        entry = {"label": c.label, "text": c.text, "penalty": float_literal(c.penalty), "count": len(c.excesses),
                 "hard": c.hard, "form": None, "action": None, "capacity": None}
        if c.hard:
            action = model.actions[c.kept.action]
            entry.update(form=c.kept.form, action=action.name, capacity=action.capacity,
                         rows=action.rows_and_entries()[0])
        table.append(entry)
    return table


def _slot_code(model: ScenarioModel, fold: dict, inter: dict, names: dict) -> dict:
    """One straight-line body computing every per-slot output."""
    outputs: list[sp.Expr] = [model.reward]
    excess_slices, k = [], 1
    for c in model.constraints:
        outputs += list(c.excesses)
        excess_slices.append((c.label, k, k + len(c.excesses), float_literal(c.penalty),
                              None if not c.hard else (c.kept.form, c.kept.action)))
        k += len(c.excesses)
    metric_slices = []
    for metric in model.metrics.values():
        outputs += list(metric.exprs)
        metric_slices.append((metric.name, k, k + len(metric.exprs), tuple(metric.shape)))
        k += len(metric.exprs)
    state_symbols = model.state_symbols()
    next_columns: list[tuple[int, str, str]] = []  # (column, kind, payload)
    draws = []
    for column, symbol in enumerate(state_symbols):
        rule = model.transitions.get(symbol)
        if isinstance(rule, Draw):
            draws.append((column, rule, k, k + len(rule.args)))
            outputs += list(rule.args)
            k += len(rule.args)
        elif rule is not None:
            next_columns.append((column, "value", str(k)))
            outputs.append(rule)
            k += 1
    outputs = [_as_expr(e).xreplace(fold) for e in outputs]
    needed = _reachable(outputs, inter)
    intermediates = [(names[s], _print(inter[s], names), s.name) for s in needed]
    body = emit_function_body(outputs, names, prefix="t")
    results = [f"_column({r}, like)" if outputs[i].is_number else r for i, r in enumerate(body.results)]
    slot_symbol = sp.Symbol(SLOT, real=True)
    for column, rule, lo, hi in draws:
        args = [f"out[{i}]" for i in range(lo, hi)]
        next_columns.append((column, "draw", _draw_code(rule, args)))
    next_columns.sort()
    columns = []
    for column, symbol in enumerate(state_symbols):
        found = [c for c in next_columns if c[0] == column]
        if symbol == slot_symbol:
            columns.append(f"state[:, {column}] + 1.0")
        elif not found:
            columns.append(f"state[:, {column}]")
        elif found[0][1] == "value":
            columns.append(f"out[{found[0][2]}]")
        else:
            columns.append(found[0][2])
    return {"intermediates": intermediates, "assignments": body.assignments, "results": results,
            "excess_slices": excess_slices, "metric_slices": metric_slices, "next_columns": columns}


def _targets(names: list[str]) -> str:
    return ", ".join(names) + ("," if len(names) == 1 else "")


def render(model: ScenarioModel, source: str | None = None) -> dict[str, str]:
    """file name -> text of every generated file (no I/O besides reading templates)."""
    try:
        check_identifier(model.name)
        names = _names(model)
        fold = model.constant_substitution()
        inter = {s: e.xreplace(fold) for s, e in model.intermediates.items()}
        state_symbols = model.state_symbols()
        observed = [state.observed for state in model.states.values() for _ in state.symbols()] + [True]
        low = [state.lower for state in model.states.values() for _ in state.symbols()] + [0.0]
        high = [state.upper for state in model.states.values() for _ in state.symbols()] + [float(model.horizon)]
        context = {
            "model": model, "scenario": model.name, "class_name": generate._class_name(model.name),
            "source_name": Path(model.path).name,
            "source": source if source is not None else Path(model.path).read_text(encoding="utf-8"),
            "state_layout": [s.name for s in state_symbols],
            "observed": observed, "state_low": generate._py(tuple(low)), "state_high": generate._py(tuple(high)),
            "observed_tuple": generate._py(tuple(observed)),
            "action_layout": [s.name for s in model.decision_symbols()],
            "action_kinds": [(a.name, a.kind, list(a.shape)) for a in model.actions.values()],
            "state_targets": _targets([names[s] for s in state_symbols]),
            "decision_targets": _targets([names[s] for s in model.decision_symbols()]),
            "initial": _initial_code(model, fold, inter, names),
            "initial_columns": [names[s] for s in state_symbols],
            "actions": _action_blocks(model, fold, names),
            "slot": _slot_code(model, fold, inter, names),
            "constants": [(n, float(c.value)) for n, c in model.constants.items()],
            "horizon": model.horizon, "discount": float_literal(model.discount),
            "constraints": _constraint_table(model),
            "choice_rules": _choice_rules_code(model, fold, inter, names),
            "masked_choices": [b for b in _action_blocks(model, fold, names) if b["choice"] and b["masked"]],
            "metrics": [(m.name, list(m.shape)) for m in model.metrics.values()],
            "states": [(s.name, list(s.shape), s.lower, s.upper, s.observed) for s in model.states.values()],
            "algorithm": str(model.train.get("algorithm", "cgdm")),
        }
    except UnsafeIdentifier as error:
        raise UsageError(f"cannot compile {model.path}: {error}") from None
    env = generate._environment()
    files = {name: env.get_template(template).render(**context) for name, template in sorted(FILES.items())}
    files[generate.MARKER] = env.get_template("marker.j2").render(files=sorted(files))
    return files


def compile_scenario(model: ScenarioModel, out_dir: str | Path | None = None, force: bool = False,
                     source: str | None = None) -> list[Path]:
    """Render and write the package (`mechdsl.codegen.generate.write_package` rules)."""
    out = Path(out_dir) if out_dir is not None else Path("generated") / model.name
    return generate.write_package(out, lambda: render(model, source), force)


def _as_expr(value) -> sp.Expr:
    """A model output as a SymPy expression: outputs are SymPy objects built from the parse
    tree, or plain Python numbers for constant rules (no text ever reaches SymPy here)."""
    if isinstance(value, sp.Basic):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"unexpected scenario output {value!r}")
    return sp.Integer(value) if isinstance(value, int) else sp.Float(value)
