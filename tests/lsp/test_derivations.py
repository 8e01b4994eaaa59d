"""The derivation cache's key: comments and layout do not count, code and strings do."""

from __future__ import annotations

from mechdsl.lsp.derivations import text_key


def test_an_edit_of_a_comment_or_of_the_layout_keeps_the_cached_derivation():
    source = 'param x = 1   # one\nlet y = x^2\ntrain {\n  violation_penalty = "log1p"\n}\n'
    assert text_key(source) == text_key('param x = 1\n\n\nlet y = x^2  # two\ntrain { violation_penalty = "log1p" }')
    assert text_key(source) != text_key(source.replace("x = 1", "x = 2"))
    assert text_key(source) != text_key(source.replace('"log1p"', '"log1p # x"'))  # inside a string: code
