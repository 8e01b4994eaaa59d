"""Diagnostics: errors as values with positions, rendered `path:line:col: error: message`.

A `Diagnostic` is created wherever a mistake is found; stages gather them and raise one
`SpecError` holding all of them, sorted by position. Only the CLI prints them.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable, Sequence

from mechdsl.errors import MechdslError
from mechdsl.lang.ast import Span


@dataclass(frozen=True)
class Diagnostic:
    message: str
    span: Span
    hint: str | None = None
    severity: str = "error"


class SpecError(MechdslError):
    """One or more user mistakes in a spec; never a bug in mechdsl."""

    def __init__(self, path: str, source: str, diagnostics: Sequence[Diagnostic]):
        self.path = path
        self.source = source
        self.diagnostics = tuple(
            sorted(diagnostics, key=lambda d: (d.span.line, d.span.col, d.message))
        )
        super().__init__(render_all(path, source, self.diagnostics, color=False))

    @property
    def first(self) -> Diagnostic:
        return self.diagnostics[0]


def source_lines(source: str) -> list[str]:
    """The lines of `source` numbered as the parser numbers them: only "\n" ends a line
    (`str.splitlines` would also split at "\r", "\f" and others, and disagree)."""
    lines = source.split("\n")
    if len(lines) > 1 and not lines[-1]:
        lines.pop()  # the newline that ends the last line starts no new one
    return [line.removesuffix("\r") for line in lines]


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A 'did you mean' hint naming the closest candidate, if any is close enough."""
    matches = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None


def closest_names(name: str, candidates: Iterable[str], n: int = 4) -> str | None:
    """'did you mean' for a close candidate; otherwise the `n` most similar names in scope
    (difflib's ratio), so a name the user abbreviated (`cost` for `c`) still points somewhere."""
    names = sorted(set(candidates))
    close = did_you_mean(name, names)
    if close or not names:
        return close
    ranked = sorted(names, key=lambda c: (-difflib.SequenceMatcher(None, name, c).ratio(), c))[:n]
    return f"nothing similar is defined; closest names in scope: {', '.join(ranked)}"


_BLANKS = str.maketrans({"\r": " ", "\f": " ", "\v": " "})


def _style(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def render(path: str, source: str, diagnostic: Diagnostic, *, color: bool = False) -> str:
    """Render one diagnostic: header line, the source line, a caret under the span, a hint."""
    span = diagnostic.span
    header = (
        f"{_style(f'{path}:{span.line}:{span.col}:', '1', color)} "
        f"{_style(diagnostic.severity + ':', '1;31', color)} {diagnostic.message}"
    )
    lines = [header]
    lines_of_source = source_lines(source)
    if 1 <= span.line <= len(lines_of_source):
        # one column per character, as the parser counts them; control characters shown as spaces
        text = lines_of_source[span.line - 1].expandtabs(1).translate(_BLANKS)
        width = (
            max(1, span.end_col - span.col)
            if span.end_line == span.line and span.end_col > span.col
            else max(1, len(text) - span.col + 1)
        )
        gutter = f"{span.line:>5} | "
        lines.append(gutter + text)
        lines.append(" " * (len(gutter) + span.col - 1) + _style("^" * width, "1;32", color))
    if diagnostic.hint:
        lines.append(f"{_style('hint:', '1;36', color)} {diagnostic.hint}")
    return "\n".join(lines)


def render_all(
    path: str, source: str, diagnostics: Sequence[Diagnostic], *, color: bool = False
) -> str:
    return "\n".join(render(path, source, d, color=color) for d in diagnostics)
