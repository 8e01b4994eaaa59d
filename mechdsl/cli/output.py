"""Shared CLI output helpers: user errors without positions and spec loading.

`UsageError` is defined in `mechdsl.errors` (library code raises it too); it is re-exported
here so `from mechdsl.cli.output import UsageError` keeps working.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from mechdsl.errors import UsageError
from mechdsl.tolerances import MAX_MAGNITUDE


def print_error(message: str, hint: str | None = None) -> None:
    print(f"mechdsl: error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)


SET_HELP = ("override a size or constant (K=5 re-derives the model); repeatable, "
            "see `mechdsl --help`")


def add_set_argument(parser, help: str = SET_HELP) -> None:
    """`--set NAME=VALUE`, the same on every verb that loads a spec."""
    parser.add_argument("--set", action="append", metavar="NAME=VALUE", help=help)


def read_spec(path: str) -> str:
    file = Path(path)
    if file.is_dir():
        specs = sorted(p.name for p in file.glob("*.mech"))
        hint = (f"pass one spec file, e.g. {file / specs[0]}" + (f" ({len(specs)} .mech files there)" if len(specs) > 1 else "")
                if specs else "pass the path of a .mech file, e.g. specs/two_period.mech")
        raise UsageError(f"{path} is a folder, not a spec file", hint=hint)
    if not file.is_file():
        raise UsageError(f"no such spec file: {path}", hint="pass the path of a .mech file, e.g. specs/two_period.mech")
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text") from None


def parse_overrides(pairs: list[str] | None) -> dict[str, float]:
    """`--set NAME=VALUE` pairs -> {name: value}; every value a finite number of magnitude at most
    `MAX_MAGNITUDE` (whether a size is a whole number is the checker's to say: it knows the sizes)."""
    overrides: dict[str, float] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--set expects NAME=VALUE, got {pair!r}")
        name = name.strip()
        try:
            number = float(value)
        except ValueError:
            raise UsageError(f"--set {name}: {value!r} is not a number") from None
        if not math.isfinite(number):
            raise UsageError(f"--set {name}: {value!r} is not a finite number",
                             hint=f"give a number, e.g. --set {name}=2 (nan and inf are refused)")
        if abs(number) > MAX_MAGNITUDE:
            limit = f"{MAX_MAGNITUDE:.0e}".replace("e+", "e")
            raise UsageError(f"--set {name}: {value} is beyond mechdsl's limit of {limit} in magnitude",
                             hint="the float64 solvers fail on data this large; rescale the spec's units "
                                  "(thousands, millions)")
        overrides[name] = number
    return overrides


def load_model(path: str, overrides: dict[str, float] | None = None):
    from mechdsl.lang import load_source

    return load_source(read_spec(path), path, overrides)


def positioned_refusal(error: Exception, spec_path: str | None):
    """A semantic refusal about one statement of the spec (an error with a `statement`
    attribute naming its AST class, e.g. `ReductionRefused` and the utility) as a `SpecError`
    pointing at that statement (file:line:col, caret, hint); None when there is no spec or no
    such statement."""
    kind = getattr(error, "statement", None)
    if kind is None or spec_path is None:
        return None
    from mechdsl.lang import parse
    from mechdsl.lang.diagnostics import Diagnostic, SpecError

    try:
        source = read_spec(spec_path)
        statement = next((s for s in parse(source, spec_path).statements if type(s).__name__ == kind), None)
    except Exception:  # noqa: BLE001 - the refusal is shown unpositioned rather than lost
        return None
    if statement is None:
        return None
    headline = getattr(error, "headline", "cannot reduce this contract")
    return SpecError(spec_path, source, [Diagnostic(f"{headline}: {error}" if headline else str(error), statement.span,
                                                    hint=getattr(error, "hint", None))])
