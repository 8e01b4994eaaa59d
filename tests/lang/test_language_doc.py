"""docs/language.md cannot drift from the language: its grammar excerpts are grammar.lark's,
every statement and keyword of the grammar is documented, every example parses (the full
spec also checks), and every error shown is the one the checker gives today.

Blocks of the page: ```lark (grammar excerpts), ```mech (examples: they parse),
```mech-spec (a complete spec: it checks), ```mech-mistake followed by ```text (the
source of a mistake and the diagnostic `mechdsl check` prints for it)."""

from __future__ import annotations

import re

import pytest

from mechdsl.lang import SpecError, load_source, parse
from mechdsl.lang.diagnostics import render
from spec_samples import ROOT

DOC = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
GRAMMAR = (ROOT / "mechdsl" / "lang" / "grammar.lark").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```([\w-]+)\n(.*?)^```$", DOC, flags=re.MULTILINE | re.DOTALL)


def _blocks(kind: str) -> list[str]:
    return [text for info, text in BLOCKS if info == kind]


def _statement_rules() -> list[str]:
    body = re.search(r"^\?statement:(.*?)\n\n", GRAMMAR, flags=re.MULTILINE | re.DOTALL)[1]
    return re.findall(r"\b([a-z_]+)\b", body)


def test_every_grammar_excerpt_is_copied_from_the_grammar():
    grammar_lines = {line.rstrip() for line in GRAMMAR.splitlines()}
    for block in _blocks("lark"):
        for line in block.splitlines():
            assert line.rstrip() in grammar_lines, f"not in grammar.lark: {line!r}"


def test_every_statement_rule_has_its_grammar_on_the_page():
    documented = {m for block in _blocks("lark") for m in re.findall(r"^[?!]?([a-z_]+):", block, re.MULTILINE)}
    rules = _statement_rules()
    assert len(rules) >= 27
    missing = [r for r in rules if r not in documented]
    assert not missing, f"statements without a grammar excerpt in docs/language.md: {missing}"


def test_every_keyword_of_the_grammar_appears_on_the_page():
    keywords = set(re.findall(r'"([a-z_]+)"', GRAMMAR))
    assert {"mechanism", "payment", "from", "per_period", "softmax"} <= keywords
    missing = sorted(k for k in keywords if not re.search(rf"\b{k}\b", DOC))
    assert not missing, f"keywords missing from docs/language.md: {missing}"


def test_every_statement_has_an_example_and_most_a_mistake():
    sections = re.split(r"^### ", DOC, flags=re.MULTILINE)[1:]
    assert len(sections) >= 25
    for section in sections:
        title = section.splitlines()[0]
        assert "```lark" in section and "```mech\n" in section, title
    with_mistake = [s for s in sections if "```mech-mistake" in s]
    assert len(with_mistake) >= len(sections) - 2  # scenario and reward have no statement-level mistake


@pytest.mark.parametrize("example", _blocks("mech"), ids=lambda text: text.splitlines()[0][:40])
def test_every_example_parses(example):
    statements = parse(example, "example.mech").statements
    assert len(statements) == len([line for line in example.splitlines()
                                   if line and not line.startswith((" ", "}", "#"))])


def test_the_complete_spec_checks_and_is_the_bundled_example():
    (spec,) = _blocks("mech-spec")
    assert spec == (ROOT / "examples" / "monopoly.mech").read_text(encoding="utf-8")
    assert load_source(spec, "monopoly.mech").name == "monopoly"


MISTAKES = re.findall(r"^```mech-mistake\n(.*?)^```\n\n```text\n(.*?)^```$", DOC, flags=re.MULTILINE | re.DOTALL)


def test_there_are_mistakes_to_check():
    assert len(MISTAKES) == len(_blocks("mech-mistake")) >= 30


@pytest.mark.parametrize(("source", "shown"), MISTAKES, ids=lambda text: text.splitlines()[0][:40])
def test_every_mistake_gives_the_error_shown(source, shown):
    with pytest.raises(SpecError) as raised:
        load_source(source, "spec.mech")
    rendered = [render("spec.mech", source, d) for d in raised.value.diagnostics]
    assert shown.rstrip("\n") in rendered, "\n\n".join(rendered)
