"""Completion by context (no server): statement starts, train and period blocks, scopes."""

from __future__ import annotations

from mechdsl.lang.algorithm_table import ALGORITHMS
from mechdsl.lang.train_schema import RUN_SETTINGS
from mechdsl.lsp.completion import completions, enclosing_block


def labels(text: str) -> list[str]:
    line_before = text.split("\n")[-1]
    return [item.label for item in completions(None, line_before, text.count("\n") + 1, len(line_before) + 1, text)]


def test_the_block_around_the_cursor_ignores_braces_in_strings_and_comments():
    assert enclosing_block("train {\n  algorithm = edmsac\n  st") == "train"
    assert enclosing_block("period 1 { type a prob p }\nmax") is None
    assert enclosing_block('train { run = "}" # }\n  ') == "train"
    assert enclosing_block("period 2 discount beta {\n  ") == "period"


def test_a_train_block_offers_its_settings_and_a_setting_its_choices():
    assert labels("mechanism m\ntrain {\n  algorithm = ") == list(ALGORITHMS)
    settings = labels("train {\n  algorithm = amortized\n  ")
    assert set(RUN_SETTINGS) <= set(settings) and "violation_weight" in settings and "constraint" not in settings
    assert labels("train {\n  violation_penalty = l") == ["linear", "log1p"]


def test_keywords_only_where_a_statement_may_start():
    assert "constraint" in labels("mechanism m\ncon") and "constraint" not in labels("mechanism m\nlet a = b + c")
    assert labels("period 1 {\n  ")[:2] == ["type", "menu"]
