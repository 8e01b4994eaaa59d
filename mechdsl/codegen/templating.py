"""The Jinja2 environment every generator renders with, and the check of what it renders.

Three guards make a generated package valid by construction:

* **Text from outside is escaped, always by one function.** Whatever the generator does not
  write itself (the spec's file name, the names and labels of the spec, formulas in
  comments) reaches a generated module only through `string_body` (the `string_body` and
  `comment` filters) or `string_literal` (the `py` filter for strings), so a file named
  `x\"\"\";import os;\"\"\".mech` or `a\\xb.mech` is text in a docstring, never code.
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

from mechdsl.codegen.package_write import MARKER

_OBJECT_REPR = re.compile(r"<[^<>\n]* (?:object|method|function)[^<>\n]* at 0x[0-9a-fA-F]+>")
_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}")


def string_literal(value) -> str:
    """A Python string literal holding `str(value)` exactly: its `repr`."""
    return repr(str(value))


_ESCAPED = {"\\": "\\\\", '"': '\\"'}  # what must be escaped in a double-quoted literal though printable


def string_body(value) -> str:
    """`str(value)` as text that may stand inside any double-quoted Python string literal,
    a triple-quoted docstring included, and reads back as itself: a backslash and a double
    quote get a backslash, and every character that is not printable (a newline, a NUL, a
    lone surrogate from an undecodable file name) becomes the escape `repr` writes for it."""
    return "".join(_ESCAPED.get(c) or (c if c.isprintable() else string_literal(c)[1:-1]) for c in str(value))


def comment_text(value) -> str:
    """`str(value)` on one line (runs of whitespace become one space) for a `#` comment or a
    docstring, escaped by `string_body`."""
    return string_body(" ".join(str(value).split()))


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
        self.filters["string_body"] = string_body
        self.filters["comment"] = comment_text

    def getattr(self, obj, attribute):
        if isinstance(obj, Mapping):
            if attribute in obj:
                return obj[attribute]
            return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def render_package(env: jinja2.Environment, templates: Mapping[str, str], context: Mapping,
                   verbatim: Mapping[str, str] | None = None) -> dict[str, str]:
    """file name -> text of a generated package, what `package_write.write_package` writes: each
    output file of `templates` (output file -> template) rendered with `context`, the `verbatim`
    files as given (e.g. `spec.mech`, the spec's own text), all in name order, and last the
    marker (`marker.j2`) listing them. Every kind's generator renders through this one function."""
    files = {name: env.get_template(template).render(**context) for name, template in sorted(templates.items())}
    files.update(verbatim or {})
    files = dict(sorted(files.items()))
    files[MARKER] = env.get_template("marker.j2").render(files=sorted(files))
    return files


__all__ = ["CheckedEnvironment", "CheckedTemplate", "GeneratedCodeError", "check_rendered", "comment_text",
           "render_package", "string_body", "string_literal", "template_line_of"]
