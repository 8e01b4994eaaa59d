"""User-facing error types: the bottom layer every other module may import.

A `MechdslError` is a mistake of the user's, never a bug in mechdsl: library code raises
one with a message (and, where it helps, a hint), and only the CLI (`mechdsl.cli.main`)
turns it into text on stderr and exit code 2. Anything else that escapes a command is an
internal error (exit 3).

    MechdslError
      UsageError        how mechdsl was called: a missing file, a bad --set, a run folder
                        that holds no run, a grid that names no parameter
        CompileError    a spec that checks but cannot be compiled (or a target folder that
                        cannot be written)
        UnsupportedVerb a command the spec's kind does not support (`derive` of a game)
      ReferenceUnavailable  no certified exact optimum could be found for one state of a
                        non-convex spec (every start and method failed)

Spec mistakes with source positions are `mechdsl.lang.diagnostics.SpecError`, a
`MechdslError` that lives with the diagnostics it renders (file:line:col, source line,
carets, hint).
"""

from __future__ import annotations


class MechdslError(Exception):
    """A user mistake; `hint` (optional) says how to fix it."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


class UsageError(MechdslError):
    """A mistake in how mechdsl was called (missing file, bad --set), not in a spec."""


class CompileError(UsageError):
    """A checked spec that cannot be turned into a package, or a target that cannot be written."""


class UnsupportedVerb(UsageError):
    """A verb (`derive`, `solve`, ...) that the spec's kind does not implement."""


class ReferenceUnavailable(MechdslError):
    """No exact reference for one state: the problem is not convex and every local start and
    method found no feasible point. `state` is the state's numbers by name; evaluations catch
    this per state, flag the state and leave it out of the optimality ratio."""

    def __init__(self, message: str, state: dict[str, float] | None = None, hint: str | None = None):
        super().__init__(message, hint)
        self.state = dict(state or {})
