"""mechdsl: a declarative mechanism-design language and compiler.

    >>> import mechdsl
    >>> model = mechdsl.load("specs/two_period.mech")

Pipeline: parse -> check (`mechdsl.lang`) -> reduce (`mechdsl.reduce`) -> certify/solve
(`mechdsl.solve`) -> generate (`mechdsl.codegen`) -> train (`mechdsl.rl`).
"""

from __future__ import annotations

__version__ = "0.1.0"


def load(path, overrides: dict[str, float] | None = None):
    """Parse and check a `.mech` file; returns the checked `mechdsl.model.Model`."""
    from mechdsl.lang import load_file

    return load_file(path, overrides)


__all__ = ["__version__", "load"]
