"""Code generation for scenarios: `ScenarioModel` -> a batched multi-slot torch env package.

`compile_scenario(model, out_dir)` renders `templates/scenario_*.j2` into `out_dir`
(default `generated/<scenario>/`): `env.py` (satisfies `mechdsl.rl.env.BatchedEnv` with
horizon > 1), `__init__.py`, `spec.mech`, `README.md` and the `.mechdsl-generated` marker.
Writing reuses the contract generator's rules (deterministic text, staging folder, marker
guard, never deleting files mechdsl did not write).

Formulas: constants are folded in exactly. Every indexed quantity is one tensor with its
entity axes, (B, *shape): states and decisions are unpacked from the flat (B, n) columns,
each `let` function `f(i, j)` is computed once for all its entries, and so is each output
(reward, constraint excesses, metrics, next states, arguments of random draws); see
`mechdsl.scenario.tensorize` for how the model's scalar entries become one template.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import sympy as sp

from mechdsl.errors import UsageError
from mechdsl.codegen import generate
from mechdsl.codegen.printer import UnsafeIdentifier, check_identifier, float_literal
from mechdsl.codegen.templating import render_package
from mechdsl.model import all_indices
from mechdsl.scenario.model import SLOT, Draw, ScenarioModel
from mechdsl.scenario.linebreak import wrap
from mechdsl.scenario.tensorize import Family, NoMatch, Tensorizer
from mechdsl.tolerances import VIOLATION_TOLERANCE

FILES = {"__init__.py": "scenario_init.py.j2", "env.py": "scenario_env.py.j2", "spec.mech": "scenario_spec.mech.j2",
         "README.md": "scenario_README.md.j2"}

_CALL = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\((\d+(?:, \d+)*)\)$")
_DRAWS = {"uniform": "_uniform", "normal": "_normal", "bernoulli": "_bernoulli"}


def _intermediate_families(model: ScenarioModel) -> dict[str, dict[tuple[int, ...], sp.Symbol]]:
    """`let` function name -> {argument tuple: intermediate symbol `f(i, j)`}."""
    families: dict[str, dict[tuple[int, ...], sp.Symbol]] = {}
    for symbol in model.intermediates:
        match = _CALL.match(symbol.name)
        if match is None:
            raise UnsafeIdentifier(f"intermediate {symbol.name!r} is not a call at whole-number arguments")
        families.setdefault(match.group(1), {})[tuple(int(a) for a in match.group(2).split(", "))] = symbol
    return families


@dataclass
class _Compiler:
    """The tensors of one scenario and the statements computing them."""

    model: ScenarioModel
    fold: dict = field(init=False)
    tensorizer: Tensorizer = field(init=False)
    columns: dict[str, tuple[int, int, tuple[int, ...]]] = field(default_factory=dict)  # local -> (lo, hi, shape)
    inter_lines: dict[str, list[str]] = field(default_factory=dict)
    inter_reads: dict[str, set[str]] = field(default_factory=dict)
    inter_order: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        model = self.model
        self.fold = model.constant_substitution()
        places: dict[sp.Symbol, tuple[Family, tuple[int, ...]]] = {}
        end = self._lay_out("s", model.states.values(), places)
        places[sp.Symbol(SLOT, real=True)] = (Family("s_slot", ()), ())
        self.columns["s_slot"] = (end, end + 1, ())
        self._lay_out("d", model.actions.values(), places)
        families = _intermediate_families(model)
        for name, entries in families.items():
            shape = tuple(max(index[k] for index in entries) + 1 for k in range(len(next(iter(entries)))))
            family = Family(check_identifier(f"f_{name}"), shape)
            for index, symbol in entries.items():
                places[symbol] = (family, index)
        self.tensorizer = Tensorizer(places)
        for name, entries in families.items():
            local = f"f_{name}"
            shape = places[next(iter(entries.values()))][0].shape
            exprs = {index: self.model.intermediates[symbol].xreplace(self.fold) for index, symbol in entries.items()}
            lines, reads = self.family_lines(local, exprs, shape, f"{name}: {shape}")
            self.inter_lines[local], self.inter_reads[local] = lines, reads
        self.inter_order = self._topological(list(self.inter_lines))

    def _lay_out(self, prefix: str, entities, places: dict) -> int:
        """One family `<prefix>_<name>` per state variable or action, on consecutive columns
        of the flat state or decisions (row-major entries); returns the end column."""
        start = 0
        for entity in entities:
            family = Family(check_identifier(f"{prefix}_{entity.name}"), tuple(entity.shape))
            for index, symbol in zip(all_indices(entity.shape), entity.symbols()):
                places[symbol] = (family, index)
            width = math.prod(entity.shape)
            self.columns[family.local] = (start, start + width, family.shape)
            start += width
        return start

    def _topological(self, locals_: list[str]) -> list[str]:
        order, done = [], set()

        def visit(local: str, path: tuple[str, ...]) -> None:
            if local in done:
                return
            if local in path:
                raise UnsafeIdentifier(f"the let functions {' -> '.join(path)} depend on each other in a cycle")
            for read in sorted(self.inter_reads[local] & set(self.inter_lines), key=locals_.index):
                if read != local:
                    visit(read, path + (local,))
            done.add(local)
            order.append(local)

        for local in locals_:
            visit(local, ())
        return order

    # ------------------------------------------------------------- families
    def family_lines(self, local: str, entries: dict[tuple[int, ...], sp.Expr], shape: tuple[int, ...],
                     comment: str = "") -> tuple[list[str], set[str]]:
        """Statements computing `local` (B, *shape) from its entries, and the families they read."""
        tz = self.tensorizer
        points = list(all_indices(shape))
        try:
            if set(entries) != set(points):
                raise NoMatch("entries missing from the grid")
            template = tz.template([entries[p] for p in points], shape)
            return tz.statements(local, template, shape, comment), tz.families_of(template)
        except NoMatch:
            pass
        lines, reads, parts = [], set(), []
        for flat, point in enumerate(points):
            if point not in entries:
                parts.append("_entity(0.0, like)")
                continue
            template = tz.template([entries[point]], ())
            lines += tz.statements(f"{local}_e{flat}", template, (), prefix=f"t{flat}")
            reads |= tz.families_of(template)
            parts.append(f"{local}_e{flat}")
        if shape:
            view = ", ".join(["batch", *map(str, shape)])
            lines.append(f"{local} = torch.stack([{', '.join(parts)}], -1).reshape({view})"
                         + (f"  # {comment}" if comment else ""))
        else:
            lines.append(f"{local} = {parts[0]}")
        return lines, reads

    def unpack(self, local: str, source: str) -> str:
        lo, hi, shape = self.columns[local]
        if not shape:
            return f"{local} = {source}[:, {lo}]"
        if len(shape) == 1:
            return f"{local} = {source}[:, {lo}:{hi}]"
        return f"{local} = {source}[:, {lo}:{hi}].reshape(batch, {', '.join(map(str, shape))})"

    def body(self, outputs: list[tuple[list[str], set[str]]], defined: set[str] = frozenset()) -> list[str]:
        """Unpacked inputs, the intermediates the outputs need (in dependency order), then the
        outputs' own statements; every line wrapped to LINE_LIMIT."""
        needed = self._closure({r for _, reads in outputs for r in reads})
        lines = []
        for local in self.columns:
            if local in needed and local not in defined:
                lines.append(self.unpack(local, "state" if local.startswith("s_") else "decided"))
        for local in self.inter_order:
            if local in needed and local not in defined:
                lines += self.inter_lines[local]
        for statements, _ in outputs:
            lines += statements
        return [w for line in lines for w in wrap(line)]

    def output(self, local: str, exprs, shape: tuple[int, ...], comment: str = "") -> tuple[list[str], set[str]]:
        points = list(all_indices(shape))
        return self.family_lines(local, {p: _as_expr(e).xreplace(self.fold) for p, e in zip(points, exprs)},
                                 shape, comment)

    def draw(self, local: str, draws: list[Draw], shape: tuple[int, ...],
             where=lambda name: name) -> tuple[list[tuple[list[str], set[str]]], str]:
        """`local` drawn entry by entry: (outputs computing the non-constant arguments, the
        sampler statement, reading an argument output `name` as `where(name)`)."""
        names = {d.name for d in draws}
        if len(names) != 1:
            raise UnsafeIdentifier(f"{local} mixes distributions {sorted(names)}")
        outputs, args = [], []
        for k in range(len(draws[0].args)):
            column = [_as_expr(d.args[k]).xreplace(self.fold) for d in draws]
            if all(e.is_number for e in column) and len({float(e) for e in column}) == 1:
                args.append(float_literal(sp.N(column[0], 17)))
                continue
            outputs.append(self.output(f"{local}_arg{k}", column, shape))
            args.append(where(f"{local}_arg{k}"))
        size = "(" + "".join(f"{n}, " for n in shape).rstrip(" ") + ")"
        return outputs, f"{local} = {_DRAWS[draws[0].name]}({', '.join(args)}, like, {size}, generator)"

    # ------------------------------------------------------------- functions
    def initial(self) -> list[str]:
        """Statements computing every state's initial value, in declaration order."""
        lines, defined = [], set()
        for state in self.model.states.values():
            local = f"s_{state.name}"
            shape = tuple(state.shape)
            if all(isinstance(i, Draw) for i in state.init):
                arguments, sampler = self.draw(local, list(state.init), shape)
                statements = ([line for lines, _ in arguments for line in lines] + [sampler],
                              set().union(*(reads for _, reads in arguments)))
            else:
                statements = self.output(local, state.init, shape, f"{state.name}: {shape}")
            lines.append(f"    # {state.name}{list(shape) if shape else ''}")
            lines += self.body([statements], defined)
            defined |= self._closure(statements[1]) | {local}
        return lines

    def _closure(self, reads: set[str]) -> set[str]:
        """`reads` and every family the intermediates among them read, transitively."""
        out, stack = set(), list(reads)
        while stack:
            local = stack.pop()
            if local not in out:
                out.add(local)
                stack.extend(self.inter_reads.get(local, ()))
        return out

    def choice_rules(self) -> dict:
        """Bodies of `qualifying(state)` and `fallback_preferences(state)`."""
        choices = [a for a in self.model.actions.values() if a.qualify is not None]

        def code(exprs_of, prefix: str) -> dict:
            outputs = [self.output(f"{prefix}_{a.name}", exprs_of(a), tuple(a.shape)) for a in choices]
            return {"lines": self.body(outputs),
                    "choices": [{"name": a.name, "local": f"{prefix}_{a.name}", "axis": a.axis + 1,
                                 "strict": a.qualify_strict, "rows_entries": a.rows_and_entries()} for a in choices]}
        return {"qualify": code(lambda a: a.qualify, "q"), "fallback": code(lambda a: a.fallback, "p")}

    def action_blocks(self) -> list[dict]:
        blocks = []
        for action in self.model.actions.values():
            lo, hi, _ = self.columns[f"d_{action.name}"]
            block = {"name": action.name, "kind": action.kind, "start": lo, "stop": hi,
                     "shape": tuple(action.shape), "axis": None if action.axis is None else action.axis + 1,
                     "level": float_literal(action.level) if action.level is not None else None,
                     "lower": float_literal(action.lower), "span": float_literal(action.upper - action.lower),
                     "mask": None, "choice": action.is_choice}
            if action.mask is not None:
                block["mask"] = self.body([self.output("mask", action.mask, tuple(action.shape))])
            if action.is_choice:
                rows, entries = action.rows_and_entries()
                moved = tuple(n for i, n in enumerate(action.shape) if i != action.axis) + (entries,)
                block.update(rows=rows, entries=entries, moved_shape=moved, capacity=action.capacity,
                             masked=action.qualify is not None)
            blocks.append(block)
        return blocks

    def slot(self) -> dict:
        """The body of `slot_outputs`: every per-slot output as a named tensor."""
        model = self.model
        outputs = [self.output("reward", [model.reward], (), "the reward: (B,)")]
        aliases: dict[str, str] = {}  # an output that is a family computed anyway is returned as it is
        excesses = []
        for c in model.constraints:
            shape = tuple(max(i[k] for i in c.instances) + 1 for k in range(len(c.instances[0]))) \
                if c.instances and c.instances[0] else ()
            if list(all_indices(shape)) != list(c.instances):
                shape = (len(c.excesses),)
            local = f"g_{c.label}"
            outputs.append(self.output(local, c.excesses, shape, f"excess of {c.label}: (B, {len(c.excesses)})"))
            excesses.append((c.label, local, float_literal(c.penalty),
                             None if not c.hard else (c.kept.form, c.kept.action)))
        metrics = []
        for metric in model.metrics.values():
            local = f"m_{metric.name}"
            outputs.append(self._aliased(local, self.output(local, metric.exprs, tuple(metric.shape)), aliases))
            metrics.append((metric.name, local))
        nexts = []
        for state in model.states.values():
            rules = [model.transitions.get(s) for s in state.symbols()]
            if all(r is None for r in rules):
                continue
            if any(r is None for r in rules):
                raise UnsafeIdentifier(f"state {state.name} has a `next` for some entries only")
            local = f"n_{state.name}"
            if all(isinstance(r, Draw) for r in rules):
                nexts.append((f"s_{state.name}", local, "draw", rules))
            else:
                outputs.append(self._aliased(local, self.output(local, rules, tuple(state.shape)), aliases))
                nexts.append((f"s_{state.name}", local, "value", None))
        returned = ["reward"] + [local for _, local, _, _ in excesses] + [local for _, local in metrics] \
            + [local for _, local, kind, _ in nexts if kind == "value"]
        return {"outputs": outputs, "excesses": excesses, "metrics": metrics, "nexts": nexts, "aliases": aliases,
                "returned": returned}

    @staticmethod
    def _aliased(local: str, output: tuple[list[str], set[str]], aliases: dict[str, str]):
        """`output` unless it only renames a family (`m_dist = f_P`): then no statement, and
        `aliases[local]` is the family it returns."""
        lines, reads = output
        if len(lines) == 1 and re.fullmatch(rf"{local} = [A-Za-z_][A-Za-z0-9_]*", lines[0]):
            aliases[local] = lines[0].split(" = ")[1]
            return [], reads
        return output

    def draws(self, nexts) -> tuple[list[tuple[list[str], set[str]]], list[str]]:
        """(argument outputs of every `next x ~ D(...)`, computed in `slot_outputs`; the
        sampler statements of `advance`, reading them from `slot.transition`)."""
        arguments, samplers = [], []
        for _, local, kind, rules in nexts:
            if kind == "draw":
                outputs, sampler = self.draw(local, rules, tuple(self.model.states[local[2:]].shape),
                                             where=lambda name: f'slot.transition["{name}"]')
                arguments += outputs
                samplers += wrap(sampler)
        return arguments, samplers


def render(model: ScenarioModel, source: str | None = None) -> dict[str, str]:
    """file name -> text of every generated file (no I/O besides reading templates)."""
    try:
        check_identifier(model.name)
        compiler = _Compiler(model)
        state_symbols = model.state_symbols()
        observed = [state.observed for state in model.states.values() for _ in state.symbols()] + [True]
        low = [state.lower for state in model.states.values() for _ in state.symbols()] + [0.0]
        high = [state.upper for state in model.states.values() for _ in state.symbols()] + [float(model.horizon)]
        initial = compiler.initial()
        slot = compiler.slot()
        arguments, advance_lines = compiler.draws(slot["nexts"])
        slot_lines = compiler.body(slot["outputs"] + arguments)
        outputs = [(local, slot["aliases"].get(local, local)) for local in slot["returned"]]
        outputs += [(statements[-1].split(" = ")[0].strip(),) * 2 for statements, _ in arguments]
        actions = compiler.action_blocks()
        context = {
            "model": model, "scenario": model.name, "violation_tolerance": repr(VIOLATION_TOLERANCE), "class_name": generate._class_name(model.name),
            "source_name": Path(model.path).name,
            "source": source if source is not None else Path(model.path).read_text(encoding="utf-8"),
            "state_layout": [s.name for s in state_symbols],
            "observed": observed,
            "state_layout_lines": _layout_lines(
                [(v.name, [s.name for s in v.symbols()], "" if v.observed else ", hidden")
                 for v in model.states.values()] + [(SLOT, [SLOT], "")]),
            "action_layout_lines": _layout_lines([(a.name, [s.name for s in a.symbols()], f", {a.kind}")
                                                  for a in model.actions.values()]),
            "bounds_lines": [w for name, values in (("OBSERVED", observed), ("STATE_BOUNDS_LOW", low),
                                                    ("STATE_BOUNDS_HIGH", high))
                             for w in wrap(f"{name} = {_runs(values)}", indent="")],
            "action_layout": [s.name for s in model.decision_symbols()],
            "action_kinds": [(a.name, a.kind, list(a.shape)) for a in model.actions.values()],
            "initial": initial,
            "initial_columns": [local for local in compiler.columns if local.startswith("s_") and local != "s_slot"],
            "actions": actions,
            "slot_lines": slot_lines, "slot_outputs": outputs,
            "excesses": slot["excesses"], "metric_outputs": slot["metrics"],
            "next_columns": _next_columns(compiler, slot["nexts"]), "advance_lines": advance_lines,
            "tables": compiler.tensorizer.table_lines(),
            "constants": [(n, float(c.value)) for n, c in model.constants.items()],
            "horizon": model.horizon, "discount": float_literal(model.discount),
            "constraints": _constraint_table(model),
            "choice_rules": compiler.choice_rules(),
            "masked_choices": [b for b in actions if b["choice"] and b["masked"]],
            "metrics": [(m.name, list(m.shape)) for m in model.metrics.values()],
            "states": [(s.name, list(s.shape), s.lower, s.upper, s.observed) for s in model.states.values()],
            "algorithm": str(model.train.get("algorithm", "cgdm")),
        }
    except UnsafeIdentifier as error:
        raise UsageError(f"cannot compile {model.path}: {error}") from None
    return render_package(generate._environment(), FILES, context)


def _next_columns(compiler: _Compiler, nexts) -> list[str]:
    """Per state variable (layout order) the (B, width) block of the next state."""
    following = {state_local: (local, kind) for state_local, local, kind, _ in nexts}
    blocks = []
    for state_local, (lo, hi, shape) in compiler.columns.items():
        if not state_local.startswith("s_"):
            continue
        if state_local == "s_slot":
            blocks.append(f"state[:, {lo}:{hi}] + 1.0")
        elif state_local not in following:
            blocks.append(f"state[:, {lo}:{hi}]")
        elif following[state_local][1] == "value":
            blocks.append(f'slot.transition["{following[state_local][0]}"].reshape(batch, {hi - lo})')
        else:
            blocks.append(f"{following[state_local][0]}.reshape(batch, {hi - lo})")
    return blocks


def _runs(values: list) -> str:
    """A tuple literal as runs of equal values, `(True,) * 16 + (False,) * 8 + ...`."""
    runs: list[list] = []
    for value in values:
        if runs and runs[-1][0] == value and type(runs[-1][0]) is type(value):
            runs[-1][1] += 1
        else:
            runs.append([value, 1])
    return " + ".join(f"({generate._py(v)},)" + (f" * {n}" if n > 1 else "") for v, n in runs)


def _layout_lines(blocks: list[tuple[str, list[str], str]]) -> list[str]:
    """Tuple entries, one wrapped block per variable under a comment naming its columns."""
    lines, start = [], 0
    for name, entries, note in blocks:
        lines.append(f"    # {name}: columns {start}:{start + len(entries)}{note}")
        lines += wrap(" ".join(generate._py(e) + "," for e in entries), inside=True)
        start += len(entries)
    return lines


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
