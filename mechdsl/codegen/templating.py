"""The Jinja2 environment every generator renders with, and the check of what it renders.

Two guards make a generated package valid by construction:

* **Lookups cannot hit Python's own attributes.** Jinja resolves `{{ block.values }}` by
  attribute first, so on a dict it printed the bound method `dict.values` (the bug behind
  `torch.tensor(<built-in method values of dict object at 0x...>)`). Here a dict is read
  by key only, and a missing key (like a missing attribute) is an error (`StrictUndefined`).
* **Every rendered file is checked before anything is written.** A `.py` module must
  compile (`compile(text, name, "exec")`), a `.json` file must load, and no file may hold
  the repr of a Python object (`<... object at 0x...>`). A failure raises
  `GeneratedCodeError` naming the template and the template line the bad output line came
  from; since rendering happens before `write_package` stages a single file, a broken
  package never reaches the disk.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

import jinja2

_OBJECT_REPR = re.compile(r"<[^<>\n]* (?:object|method|function)[^<>\n]* at 0x[0-9a-fA-F]+>")
_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}")


class GeneratedCodeError(RuntimeError):
    """A template rendered a file that is not valid (a bug in mechdsl, never in the spec)."""

    def __init__(self, template: str, template_line: int | None, output: str, output_line: int, reason: str):
        self.template, self.template_line = template, template_line
        self.output, self.output_line, self.reason = output, output_line, reason
        where = f"template {template}, line {template_line}" if template_line else f"template {template}"
        super().__init__(f"generated {output} is invalid at line {output_line} ({where}): {reason}")


def template_line_of(template_source: str, output_line: str) -> int | None:
    """The 1-based line of `template_source` that most likely printed `output_line`: the
    line whose literal text (everything outside `{{ }}`, `{% %}`, `{# #}`) matches the output
    line in order, with the most literal characters; None when no line matches."""
    target = output_line.strip()
    best, best_score = None, 0
    for number, line in enumerate(template_source.splitlines(), start=1):
        pieces = [p.strip() for p in _TAG.split(line)]
        literal = [p for p in pieces if p]
        score = sum(len(p) for p in literal)
        if not literal or score <= best_score:
            continue
        if re.search(".*?".join(re.escape(p) for p in literal), target):
            best, best_score = number, score
    return best


def check_rendered(text: str, output: str, template: str, template_source: str) -> None:
    """Raise `GeneratedCodeError` unless `text` (rendered from `template` as file `output`)
    is valid: see the module docstring."""
    lines = text.splitlines()

    def fail(line: int, reason: str) -> GeneratedCodeError:
        source_line = lines[line - 1] if 1 <= line <= len(lines) else ""
        return GeneratedCodeError(template, template_line_of(template_source, source_line) if source_line else None,
                                  output, line, f"{reason}: {source_line.strip()!r}")

    for number, line in enumerate(lines, start=1):
        if _OBJECT_REPR.search(line):
            raise fail(number, "the repr of a Python object was printed")
    if output.endswith(".py"):
        try:
            compile(text, output, "exec", dont_inherit=True)
        except SyntaxError as error:
            raise fail(error.lineno or 0, f"SyntaxError: {error.msg}") from None
    elif output.endswith(".json"):
        try:
            json.loads(text)
        except json.JSONDecodeError as error:
            raise fail(error.lineno, f"invalid JSON: {error.msg}") from None


class CheckedTemplate(jinja2.Template):
    """A template whose every rendering is checked (`check_rendered`); the output file's
    name is the template's without `.j2` (`env.py.j2` -> `env.py`)."""

    def render(self, *args, **kwargs) -> str:
        text = super().render(*args, **kwargs)
        if self.name and self.name.endswith(".j2"):
            source, _, _ = self.environment.loader.get_source(self.environment, self.name)
            check_rendered(text, self.name.removesuffix(".j2"), self.name, source)
        return text


class CheckedEnvironment(jinja2.Environment):
    """Strictly undefined names, dicts read by key only, every rendering checked."""

    template_class = CheckedTemplate

    def __init__(self, templates: Path, **options):
        super().__init__(loader=jinja2.FileSystemLoader(str(templates)), undefined=jinja2.StrictUndefined,
                         autoescape=False, **options)

    def getattr(self, obj, attribute):
        if isinstance(obj, Mapping):
            if attribute in obj:
                return obj[attribute]
            return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


__all__ = ["CheckedEnvironment", "CheckedTemplate", "GeneratedCodeError", "check_rendered", "template_line_of"]
