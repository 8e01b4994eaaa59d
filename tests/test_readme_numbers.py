"""Every number the README quotes from a benchmark is in the committed results file it links,
and the README's ten-line spec is one `mechdsl check` accepts.

The rule for numbers. A *quote* is a Markdown table cell, or a sentence of a prose paragraph
(fenced blocks left out), that holds a link `[text](benchmarks/results/PATH)`. Its *numbers* are
the matches of NUMBER in the quote with every link target removed (the link text stays): an
optional minus, digits with optional thousands commas ("48,000"), an optional decimal part,
not preceded by a letter, digit, `_` or `.` (so "K2" and "rl_two_period_K5" hold none). A
quote passes when

  1. every results path it links exists, and if the quote has numbers, is a file;
  2. every number of the quote occurs in one of the files it links as a number token with the
     same characters (the linked file is tokenised with the same NUMBER): "0.9978" matches the
     file's "0.9978 +- 0.0002" but not "0.99781", "-0.9978" or a rounded "0.998"; "48,000" does
     not match "48000". Quote a benchmark by copying its digits, never by rounding them;
  3. a table cell links one file, and all its numbers occur together on one line of it (the
     row they were copied from), so a ratio cannot sit beside another learner's wall time.

The results table (the first table whose header names K = 2 and K = 5) must have, in each K
column, at least one linked cell, and the file a K column links must be a benchmark of that K
(its title says "K = <K>").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from mechdsl.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RESULTS = "benchmarks/results/"
NUMBER = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```[^\n]*\n.*?^```\s*$", re.M | re.S)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\[`*])")


@dataclass(frozen=True)
class Quote:
    """A table cell or sentence of the README that links benchmark results."""

    text: str  # the quote with link targets removed
    targets: tuple[str, ...]  # the linked paths under benchmarks/results/, relative to the root
    in_table: bool
    row: int = -1  # table rows count from 0 below the separator
    column: str = ""  # the header of the cell's column


def numbers(text: str) -> list[str]:
    """The number tokens of a text, as written."""
    return NUMBER.findall(text)


def _without_targets(text: str) -> tuple[str, tuple[str, ...]]:
    targets = tuple(m.group(2).split("#")[0] for m in LINK.finditer(text) if m.group(2).startswith(RESULTS))
    return LINK.sub(lambda m: m.group(1), text), targets


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def quotes(markdown: str) -> list[Quote]:
    """Every table cell and prose sentence of `markdown` that links into benchmarks/results/."""
    found: list[Quote] = []
    paragraphs = re.split(r"\n\s*\n", FENCE.sub("\n\n", markdown))
    for paragraph in paragraphs:
        lines = paragraph.strip().splitlines()
        if lines and all(line.lstrip().startswith("|") for line in lines):
            header = _cells(lines[0])
            for row, line in enumerate(lines[2:]):
                for column, cell in zip(header, _cells(line)):
                    text, targets = _without_targets(cell)
                    if targets:
                        found.append(Quote(text, targets, True, row, column))
            continue
        for sentence in SENTENCE_END.split(" ".join(line.strip() for line in lines)):
            text, targets = _without_targets(sentence)
            if targets:
                found.append(Quote(text, targets, False))
    return found


def problems(quote: Quote, root: Path) -> list[str]:
    """What breaks the rule of the module docstring in one quote ([] if nothing)."""
    wanted = numbers(quote.text)
    paths = [root / target for target in quote.targets]
    missing = [str(p.relative_to(root)) for p in paths if not p.exists()]
    if missing:
        return [f"{quote.text!r}: no {', '.join(missing)}"]
    if not wanted:
        return []
    if any(not p.is_file() for p in paths):
        return [f"{quote.text!r}: links a folder; link the file its numbers are in"]
    texts = [p.read_text(encoding="utf-8") for p in paths]
    tokens = {token for text in texts for token in numbers(text)}
    out = [f"{quote.text!r}: {n} is not in {', '.join(quote.targets)}" for n in wanted if n not in tokens]
    if quote.in_table and not out:
        if len(paths) != 1:
            out.append(f"{quote.text!r}: a table cell links one results file, not {len(paths)}")
        elif not any(set(wanted) <= set(numbers(line)) for line in texts[0].splitlines()):
            out.append(f"{quote.text!r}: {', '.join(wanted)} are not together on one line of {quote.targets[0]}")
    return out


def results_table(markdown: str) -> list[Quote]:
    """The linked cells of the first table whose header names K = 2 and K = 5."""
    for paragraph in re.split(r"\n\s*\n", FENCE.sub("\n\n", markdown)):
        lines = paragraph.strip().splitlines()
        if len(lines) > 2 and lines[0].lstrip().startswith("|") and {"K = 2", "K = 5"} <= set(_cells(lines[0])):
            return [q for q in quotes(paragraph) if q.in_table]
    return []


# ---- the matcher on a tiny synthetic README and results pair ---------------------------------

RESULT_FILE = """# RL algorithms on two_period.mech, K = 2

| algorithm | seeds | env samples | optimality ratio (mean +- std) | train wall s |
|---|---|---|---|---|
| edmsac | 3 | 48,000 | 0.9576 +- 0.0065 | 645 |
| amortized | 3 | 47,872 | 0.9978 +- 0.0002 | 25 |
| td3 | 3 | 48,000 | -0.2927 +- 1.0239 | 35 |
"""


@pytest.fixture
def synthetic(tmp_path):
    (tmp_path / RESULTS).mkdir(parents=True)
    (tmp_path / RESULTS / "k2.md").write_text(RESULT_FILE)
    return tmp_path


def synthetic_problems(readme: str, root: Path) -> list[str]:
    found = quotes(readme)
    assert found, "the synthetic README has no quote: the matcher found nothing to check"
    return [p for q in found for p in problems(q, root)]


def test_matcher_accepts_numbers_copied_from_the_linked_row(synthetic):
    readme = ("Intro.\n\n| learner | K = 2 |\n|---|---|\n"
              f"| amortized | [0.9978 +- 0.0002 in 25 s]({RESULTS}k2.md) |\n"
              f"| td3 | [-0.2927 in 35 s]({RESULTS}k2.md) |\n\n"
              f"Measured with 48,000 states: EDMSAC 0.9576 ([results]({RESULTS}k2.md)). Unlinked 0.5.\n")
    assert synthetic_problems(readme, synthetic) == []
    assert [q.column for q in results_table(readme.replace("| learner | K = 2 |", "| learner | K = 2 | K = 5 |"))] \
        == ["K = 2", "K = 2"]


@pytest.mark.parametrize("wrong, why", [
    (f"| a | [0.9979 +- 0.0002 in 25 s]({RESULTS}k2.md) |", "0.9979 is not in"),  # a wrong digit
    (f"| a | [0.998 in 25 s]({RESULTS}k2.md) |", "0.998 is not in"),  # rounded, not copied
    (f"| a | [0.2927 in 35 s]({RESULTS}k2.md) |", "0.2927 is not in"),  # the sign dropped
    (f"| a | [0.9978 in 645 s]({RESULTS}k2.md) |", "not together on one line"),  # another row's wall time
    (f"| a | [0.9978]({RESULTS}missing.md) |", "no benchmarks/results/missing.md"),
    (f"| a | [0.9978]({RESULTS}) |", "links a folder"),
])
def test_matcher_rejects_a_wrong_number_in_a_cell(synthetic, wrong, why):
    readme = f"| learner | K = 2 |\n|---|---|\n{wrong}\n"
    found = synthetic_problems(readme, synthetic)
    assert len(found) == 1 and why in found[0], found


def test_matcher_rejects_a_wrong_number_in_a_sentence(synthetic):
    found = synthetic_problems(f"The amortized policy reaches 0.9965 in 48,000 states ([K = 2]({RESULTS}k2.md)).",
                               synthetic)
    assert len(found) == 1 and "0.9965 is not in" in found[0], found
    assert synthetic_problems(f"It was 48000 states ([K = 2]({RESULTS}k2.md)).", synthetic)  # commas matter


def test_numbers_are_tokens_not_name_fragments():
    assert numbers("rl_two_period_K5.md: 0.9978 +- 0.0002, 48,000 states, -0.29, 10,000x, 0.5-1") == [
        "0.9978", "0.0002", "48,000", "-0.29", "10,000", "0.5", "1"]


# ---- the README itself ------------------------------------------------------------------------

def test_every_number_the_readme_quotes_is_in_the_results_file_it_links():
    found = quotes(README.read_text(encoding="utf-8"))
    assert sum(bool(numbers(q.text)) for q in found) >= 6, "the README quotes fewer benchmark numbers than its table"
    broken = [p for q in found for p in problems(q, ROOT)]
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("k", [2, 5])
def test_the_results_table_has_a_measured_row_per_k(k):
    cells = [q for q in results_table(README.read_text(encoding="utf-8")) if q.column == f"K = {k}"]
    assert any(numbers(q.text) for q in cells), f"no linked number in the results table's K = {k} column"
    for cell in cells:
        title = (ROOT / cell.targets[0]).read_text(encoding="utf-8").splitlines()[0]
        assert f"K = {k}" in title, f"{cell.targets[0]} ({title!r}) is not a K = {k} benchmark"


def test_the_readme_spec_has_ten_lines_and_checks(tmp_path, capsys):
    spec = re.search(r"^```mech\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)
    assert spec, "README.md has no ```mech block"
    lines = [line for line in spec.group(1).splitlines() if line.strip()]
    assert len(lines) == 10, f"the README's spec has {len(lines)} lines"
    path = tmp_path / "screening.mech"
    path.write_text(spec.group(1), encoding="utf-8")
    assert main(["check", str(path)]) == 0, capsys.readouterr().err
    assert "mechanism screening" in capsys.readouterr().out
