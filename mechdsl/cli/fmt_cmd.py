"""`mechdsl fmt SPEC [--check | --write]`: print, check or rewrite a spec in canonical form.

The spec must check (its mistakes are reported as by `mechdsl check`, exit 2): before
anything is printed or written, the canonical text is parsed and checked again and must
give the same statements and the same model as the original; a difference is a bug in
the formatter, reported as an internal error with the user's file left untouched.
`--write` replaces the file atomically (a temporary file in the same folder, then
`os.replace`), so an interrupted run leaves either the old or the new text, never half.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from mechdsl import model as m
from mechdsl.cli.output import read_spec
from mechdsl.lang import check, parse
from mechdsl.lang.fmt import format_spec


class FormatterChangedMeaning(RuntimeError):
    """The canonical text does not read back as the original spec: a bug in `fmt`."""


def register(subparsers) -> None:
    parser = subparsers.add_parser("fmt", help="print the spec in canonical form (--check: exit 1 if it is not; --write: rewrite the file)")
    parser.add_argument("spec", help="path of a .mech file")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="print nothing; exit 1 if the file is not in canonical form")
    mode.add_argument("--write", action="store_true", help="rewrite the file in canonical form")
    parser.set_defaults(func=run)


def model_meaning(model: m.Model) -> tuple:
    """What a formatted spec must keep: the summary and every expression of the model."""
    if hasattr(model, "meaning"):
        return model.meaning()
    return (
        model.summary(),
        str(model.objective.expr),
        str(model.utility.expr),
        tuple((name, str(d.expr)) for name, d in model.derived.items()),
        tuple((c.kind, c.scope, c.names, tuple((str(g), op) for g, op in c.instances))
              for c in model.constraints),
        tuple((p.number, str(p.discount)) for p in model.periods),
        str(model.agent_count),
    )


def canonical_text(source: str, path: str) -> str:
    """The canonical text of `source`, verified to read back as the same spec and model.

    Raises `SpecError` if `source` has mistakes, `FormatterChangedMeaning` on a fmt bug.
    """
    spec = parse(source, path)
    original = check(spec)
    text = format_spec(spec)
    try:
        again = parse(text, path)
        same = again.statements == spec.statements and model_meaning(check(again)) == model_meaning(original)
    except Exception as error:  # noqa: BLE001 - any failure here is the formatter's fault
        raise FormatterChangedMeaning(f"the canonical text of {path} does not check: {error}") from error
    if not same:
        raise FormatterChangedMeaning(f"the canonical text of {path} does not mean the same spec")
    return text


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` by `text` in one step, keeping the file's permissions."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        shutil.copymode(path, temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def run(args) -> int:
    source = read_spec(args.spec)
    text = canonical_text(source, args.spec)
    with open(args.spec, encoding="utf-8", newline="") as file:
        on_disk = file.read()  # as stored: canonical text ends lines with "\n" only
    if args.check:
        if text != on_disk:
            print(f"{args.spec}: not in canonical form (run `mechdsl fmt --write {args.spec}`)", file=sys.stderr)
            return 1
        return 0
    if args.write:
        if text != on_disk:
            write_atomically(Path(os.path.realpath(args.spec)), text)  # through a symlink, not over it
            print(f"reformatted {args.spec}", file=sys.stderr)
        return 0
    sys.stdout.write(text)
    return 0
