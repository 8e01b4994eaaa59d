"""Diagnostics of spec text, exactly as `mechdsl check` finds them, as LSP diagnostics.

`check_text` runs what `mechdsl check` runs (`mechdsl.lang.parse`, then the kind's checker
through `mechdsl.lang.check`) on the editor's text instead of a file, and returns every
`mechdsl.lang.diagnostics.Diagnostic` of the `SpecError` it raises: the same messages,
positions and hints, several at once. A user error without a position (a `MechdslError`) is
one diagnostic on the first line; anything else is a bug in mechdsl and says so, as the CLI's
exit 3 does, instead of killing the server.
"""

from __future__ import annotations

from dataclasses import dataclass

from lsprotocol import types

from mechdsl.errors import MechdslError
from mechdsl.lang import ast, check, parse
from mechdsl.lang.diagnostics import Diagnostic, SpecError

SOURCE = "mechdsl"
_SEVERITY = {"error": types.DiagnosticSeverity.Error, "warning": types.DiagnosticSeverity.Warning}
_FIRST_LINE = ast.Span(1, 1, 1, 1)


@dataclass(frozen=True)
class CheckedText:
    """What checking one text gave: its diagnostics (empty when it checks), its parse tree
    (None on a syntax error) and its kind's name (None when it does not parse)."""

    diagnostics: tuple[Diagnostic, ...]
    spec: ast.Spec | None
    kind: str | None


def check_text(source: str, path: str) -> CheckedText:
    """Parse and check `source` as `mechdsl check PATH` would check the file."""
    spec = None
    try:
        spec = parse(source, path)
        kind = _kind_name(spec)
        check(spec)
    except SpecError as error:
        return CheckedText(error.diagnostics, spec, _kind_name(spec) if spec is not None else None)
    except MechdslError as error:
        return CheckedText((Diagnostic(str(error), _FIRST_LINE, hint=error.hint),), spec, None)
    except Exception as error:  # noqa: BLE001 - the server outlives a bug in the checker and reports it
        message = (f"internal error ({type(error).__name__}: {error}); this is a bug in mechdsl, please report it "
                   "with the spec")
        return CheckedText((Diagnostic(message, _FIRST_LINE),), spec, None)
    return CheckedText((), spec, kind)


def _kind_name(spec: ast.Spec) -> str:
    from mechdsl.kinds import kind_of_spec

    return kind_of_spec(spec).name


def lsp_range(span: ast.Span) -> types.Range:
    """A parser span (1-based, `end_col` exclusive, in characters) as an LSP range (0-based,
    in characters: the server converts to the client's position encoding). An unknown span
    (0, 0) is the file's start; an empty one is widened to one character, as the CLI's caret."""
    line, col = max(span.line - 1, 0), max(span.col - 1, 0)
    end_line, end_col = max(span.end_line - 1, 0), max(span.end_col - 1, 0)
    if (end_line, end_col) <= (line, col):
        end_line, end_col = line, col + 1
    return types.Range(types.Position(line, col), types.Position(end_line, end_col))


def to_lsp(diagnostic: Diagnostic) -> types.Diagnostic:
    """One diagnostic as the editor shows it: the CLI's message, its hint on a second line."""
    message = diagnostic.message + (f"\nhint: {diagnostic.hint}" if diagnostic.hint else "")
    return types.Diagnostic(range=lsp_range(diagnostic.span), message=message, source=SOURCE,
                            severity=_SEVERITY.get(diagnostic.severity, types.DiagnosticSeverity.Error))
