"""The TextMate grammar of editors/vscode, read and run the way a TextMate engine runs it.

Its rules are single-line `match` regexes that Python's `re` reads as Oniguruma does. At each
position a TextMate engine takes the rule whose match starts first (the earlier rule on a
tie); `tokenise` does the same. Every bundled spec must tokenise with no character outside a
token, and every keyword of mechdsl/lang/grammar.lark must get a keyword scope, not a name's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GRAMMAR = ROOT / "editors" / "vscode" / "syntaxes" / "mech.tmLanguage.json"
SPECS = sorted({*ROOT.glob("specs/*.mech"), *ROOT.glob("examples/*.mech"), *ROOT.glob("tests/*/*.mech")})
NAME_SCOPE = "variable.other.mech"


def rules() -> list[tuple[re.Pattern, dict]]:
    """The grammar's rules in the order an engine tries them (includes expanded)."""
    grammar = json.loads(GRAMMAR.read_text(encoding="utf-8"))

    def expand(entries):
        for entry in entries:
            if "include" in entry:
                yield from expand([grammar["repository"][entry["include"].removeprefix("#")]])
            elif "patterns" in entry:
                yield from expand(entry["patterns"])
            else:
                assert set(entry) <= {"match", "name", "captures", "comment"}, entry  # no begin/end regions
                yield re.compile(entry["match"]), entry

    return list(expand(grammar["patterns"]))


def tokenise(line: str, compiled) -> list[tuple[int, int, str]]:
    """(start, end, scope) of every token of one line, as a TextMate engine scans it."""
    tokens, position = [], 0
    while position < len(line):
        best = None
        for pattern, rule in compiled:
            match = pattern.search(line, position)
            if match and match.end() > match.start() and (best is None or match.start() < best[0].start()):
                best = (match, rule)
        if best is None:
            break
        match, rule = best
        if "captures" in rule:
            for group, capture in rule["captures"].items():
                if match.start(int(group)) >= 0:
                    tokens.append((match.start(int(group)), match.end(int(group)), capture["name"]))
        else:
            tokens.append((match.start(), match.end(), rule["name"]))
        position = match.end()
    return tokens


def uncovered(line: str, tokens) -> list[str]:
    covered = set()
    for start, end, _ in tokens:
        covered.update(range(start, end))
    return [f"{i}:{c!r}" for i, c in enumerate(line) if not c.isspace() and i not in covered]


def test_every_rule_compiles_and_never_matches_empty_text():
    compiled = rules()
    assert len(compiled) >= 10
    for pattern, rule in compiled:
        assert pattern.search("") is None or pattern.search("").end() > 0, rule


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_bundled_spec_tokenises_without_an_unmatched_character(spec):
    compiled = rules()
    problems = []
    for number, line in enumerate(spec.read_text(encoding="utf-8").split("\n"), start=1):
        missing = uncovered(line, tokenise(line, compiled))
        if missing:
            problems.append(f"{spec.name}:{number}: {missing}")
    assert not problems, "\n".join(problems)


def grammar_keywords() -> set[str]:
    """Every word grammar.lark writes as a literal ("mechanism", "in", "per_period", ...)."""
    text = re.sub(r"//[^\n]*", "", (ROOT / "mechdsl" / "lang" / "grammar.lark").read_text(encoding="utf-8"))
    return set(re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)"', text))


def test_every_keyword_of_the_language_is_highlighted_as_a_keyword():
    compiled = rules()
    keywords = grammar_keywords()
    assert {"mechanism", "constraint", "per_period", "sum", "softmax"} <= keywords
    plain = []
    for keyword in sorted(keywords):
        scopes = {scope for start, end, scope in tokenise(f"{keyword} x", compiled) if (start, end) == (0, len(keyword))}
        if not scopes or scopes == {NAME_SCOPE}:
            plain.append(keyword)
    assert not plain, f"add to editors/vscode/syntaxes/mech.tmLanguage.json: {plain}"


def test_scopes_of_a_sample_line():
    compiled = rules()
    line = "param varsigma = 1e-23 * f(T1[0]) + uniform(.5, 2)  # cost"
    scopes = {line[start:end]: scope for start, end, scope in tokenise(line, compiled)}
    assert scopes["param"] == "storage.type.declaration.mech"
    assert scopes["varsigma"] == "entity.name.declaration.mech"
    assert scopes["1e-23"] == "constant.numeric.mech" and scopes[".5"] == "constant.numeric.mech"
    assert scopes["f"] == "entity.name.function.mech" and scopes["uniform"] == "support.function.distribution.mech"
    assert scopes["T1"] == NAME_SCOPE and scopes["0"] == "constant.numeric.mech"
    assert scopes["# cost"] == "comment.line.number-sign.mech"
    assert uncovered("x % y", tokenise("x % y", compiled)) == ["2:'%'"]  # not a .mech operator: left unmatched


def compare_with_vscode(tokens_json: Path) -> int:
    """Lines where `tokenise` and VS Code's engine disagree (editors/vscode/test/tokenise.js's output)."""
    compiled, differing = rules(), 0
    for file, engine_lines in json.loads(tokens_json.read_text(encoding="utf-8")).items():
        for number, (line, engine) in enumerate(zip(Path(file).read_text(encoding="utf-8").split("\n"), engine_lines), 1):
            ours = set(tokenise(line, compiled))
            theirs = {(s, e, scope) for s, e, scope in engine if s < e and scope != "source.mech"}
            if ours != theirs:
                differing += 1
                print(f"{file}:{number}: {sorted(ours ^ theirs)}")
    return differing


if __name__ == "__main__":
    import sys

    sys.exit(1 if compare_with_vscode(Path(sys.argv[1])) else 0)
