"""The language server end to end over stdio (pytest-lsp): one server for the module.

Each test opens its own document (its own URI), so the tests do not see each other's
diagnostics; expected positions and texts come from the checker, `mechdsl fmt` and the
specs themselves, run in this process.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

pytest.importorskip("pygls")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402

from mechdsl.cli.fmt_cmd import canonical_text  # noqa: E402
from mechdsl.lang import SpecError, load_source  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "lang" / "tiny_contract.mech"
TWO_PERIOD = ROOT / "specs" / "two_period.mech"

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=[sys.executable, "-m", "mechdsl", "lsp"]))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=ROOT.as_uri()))
    yield
    await lsp_client.shutdown_session()


async def opened(client: LanguageClient, name: str, text: str) -> list[types.Diagnostic]:
    """Open `text` as a document named `name` and return the diagnostics published for it."""
    uri = (ROOT / "scratch" / name).as_uri()
    client.diagnostics.pop(uri, None)
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="mech", version=1, text=text)))
    return await diagnostics_of(client, uri)


async def diagnostics_of(client: LanguageClient, uri: str) -> list[types.Diagnostic]:
    while uri not in client.diagnostics:  # bounded: a server that never answers fails the test, not CI's clock
        await asyncio.wait_for(client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), 120)
    return list(client.diagnostics[uri])


def uri_of(name: str) -> str:
    return (ROOT / "scratch" / name).as_uri()


def position_of(text: str, line_text: str, word: str, nth: int = 0) -> types.Position:
    """The 0-based position of the `nth` `word` on the first line that starts with `line_text`."""
    line = next(i for i, l in enumerate(text.split("\n")) if l.startswith(line_text))
    col = -1
    for _ in range(nth + 1):
        col = text.split("\n")[line].index(word, col + 1)
    return types.Position(line, col)


async def test_two_mistakes_are_published_as_the_cli_finds_them_and_cleared_when_fixed(client):
    good = TINY.read_text(encoding="utf-8")
    broken = (good.replace("- c * t", "- cc * t")
                  .replace("algorithm = edmsac", "algorithm = edmsacc"))
    with pytest.raises(SpecError) as raised:
        load_source(broken, "broken.mech")
    expected = raised.value.diagnostics
    assert len(expected) == 2

    got = await opened(client, "broken.mech", broken)
    assert [(d.range.start.line + 1, d.range.start.character + 1) for d in got] == [(12, 37), (17, 9)]
    for diagnostic, cli in zip(got, expected):
        assert (diagnostic.range.start.line + 1, diagnostic.range.start.character + 1) == (cli.span.line, cli.span.col)
        assert (diagnostic.range.end.line + 1, diagnostic.range.end.character + 1) == (cli.span.end_line,
                                                                                      cli.span.end_col)
        assert diagnostic.message == cli.message + (f"\nhint: {cli.hint}" if cli.hint else "")
        assert diagnostic.severity == types.DiagnosticSeverity.Error and diagnostic.source == "mechdsl"
    assert "'cc' is not defined" in got[0].message and "unknown algorithm 'edmsacc'" in got[1].message

    uri = uri_of("broken.mech")
    client.diagnostics.pop(uri)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=good)]))
    assert await diagnostics_of(client, uri) == []


async def test_positions_are_in_utf16_units_past_characters_outside_the_bmp(client):
    line = 'train { algorithm = edmsac  steps = 10  run_name = "😀😀" violation_weight = zz }'
    text = TINY.read_text(encoding="utf-8").replace("train { algorithm = edmsac  steps = 10 }", line)
    got = await opened(client, "emoji.mech", text)
    assert [d.message.split("\n")[0] for d in got] == ["unknown training setting 'run_name' for edmsac",
                                                        "'zz' is not defined"]
    column = line.index("zz") + 2  # each emoji is one character for the parser, two UTF-16 units for the editor
    assert (got[1].range.start.line, got[1].range.start.character, got[1].range.end.character) == (16, column,
                                                                                                    column + 2)


async def test_a_syntax_error_is_one_positioned_diagnostic(client):
    got = await opened(client, "syntax.mech", "mechanism m\nsize K = 2\nparam c = 3 +\n")
    assert len(got) == 1
    assert got[0].message.startswith("the file ended too early")
    assert (got[0].range.start.line, got[0].range.start.character) == (2, 13)


async def test_hover_on_a_payment_shows_its_least_payments_and_binding_constraints(client):
    text = TWO_PERIOD.read_text(encoding="utf-8")
    assert await opened(client, "two_period.mech", text) == []
    position = position_of(text, "  menu T1, R1", "R1")
    for _ in range(120):  # the first derivation starts a worker process: hover says so until it is done
        result = await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri_of("two_period.mech")), position=position))
        value = result.contents.value
        if "derivation running" not in value:
            break
        await asyncio.sleep(0.5)
    assert "**payment** `R1` · shape [K] · >= 0" in value
    assert "payment R1[K] >= 0" in value and "reward in period 1" in value
    assert "R1[0] = (E + T1[0]*c)/theta1[0]" in value  # IR of the lowest type binds: theta R - c T - E = 0
    assert "R1[1] = (E + T1[1]*c + Max(0, " in value
    assert "- period 1: for each type, the IR floor or one downward IIC binds (Max-recursion)" in value
    assert (result.range.start.line, result.range.start.character) == (position.line, position.character)

    position = position_of(text, "let c = ", "c")
    result = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri_of("two_period.mech")), position=position))
    assert "**derived value** `c`" in result.contents.value
    assert "energy cost per training round" in result.contents.value and "Binding constraints" not in result.contents.value


async def test_definition_and_references_of_a_let(client):
    text = TWO_PERIOD.read_text(encoding="utf-8")
    await opened(client, "definition.mech", text)
    document = types.TextDocumentIdentifier(uri=uri_of("definition.mech"))
    use = position_of(text, "utility ES(", "c * T")
    location = await client.text_document_definition_async(types.DefinitionParams(text_document=document, position=use))
    declared = position_of(text, "let c = ", "c")
    assert (location.range.start.line, location.range.start.character) == (declared.line, declared.character)
    assert location.range.end.character == declared.character + 1

    use = position_of(text, "let U1 = ", "Q(")  # a let function
    location = await client.text_document_definition_async(types.DefinitionParams(text_document=document, position=use))
    assert location.range.start == position_of(text, "let Q(T)", "Q")

    references = await client.text_document_references_async(types.ReferenceParams(
        text_document=document, position=declared, context=types.ReferenceContext(include_declaration=True)))
    lines = [r.range.start.line + 1 for r in references]
    assert lines == [i + 1 for i, l in enumerate(text.split("\n")) if l.startswith(("let c = ", "utility ES("))]

    local = position_of(text, "let Q(T)", "T", nth=1)  # the T in the body is the parameter, not T1
    location = await client.text_document_definition_async(types.DefinitionParams(text_document=document, position=local))
    assert location.range.start == position_of(text, "let Q(T)", "T")


async def test_formatting_is_mechdsl_fmt(client):
    canonical = canonical_text(TINY.read_text(encoding="utf-8"), "tiny.mech")
    messy = canonical.replace("param N = 4", "param   N=4").replace("size K = 2", "size K=2   # types")
    await opened(client, "messy.mech", messy)
    edits = await client.text_document_formatting_async(types.DocumentFormattingParams(
        text_document=types.TextDocumentIdentifier(uri=uri_of("messy.mech")),
        options=types.FormattingOptions(tab_size=2, insert_spaces=True)))
    assert len(edits) == 1 and edits[0].new_text == canonical_text(messy, "messy.mech")
    assert "param N = 4\n" in edits[0].new_text and "size K = 2  # types\n" in edits[0].new_text
    assert (edits[0].range.start.line, edits[0].range.start.character) == (0, 0)

    await opened(client, "canonical.mech", canonical)
    edits = await client.text_document_formatting_async(types.DocumentFormattingParams(
        text_document=types.TextDocumentIdentifier(uri=uri_of("canonical.mech")),
        options=types.FormattingOptions(tab_size=2, insert_spaces=True)))
    assert edits is not None and len(edits) == 0  # canonical already: no edit (None would mean "cannot format")


def bundled_spec_of_each_kind() -> dict[str, Path]:
    """The first bundled spec (specs/, then examples/) of every kind in the registry."""
    from mechdsl.kinds import KINDS, kind_of_source

    found: dict[str, Path] = {}
    for path in [*sorted(ROOT.glob("specs/*.mech")), *sorted(ROOT.glob("examples/*.mech"))]:
        found.setdefault(kind_of_source(path.read_text(encoding="utf-8"), str(path)).name, path)
    assert set(found) == set(KINDS)
    return found


EXPECTED_SYMBOLS = {  # a few names of each kind's spec and what the outline calls them
    "static_contract.mech": {"static_contract": "mechanism", "r": "payment", "psi": "hidden types", "g": "function"},
    "iot_offloading.mech": {"iot_offloading": "game", "MA": "leader", "WA": "follower", "N": "size"},
    "agent_migration.mech": {"agent_migration": "scenario"},
    "auction_additive_1x2.mech": {"additive_1x2": "auction design", "b": "bidders", "m": "size"},
}


@pytest.mark.parametrize("kind, spec", sorted(bundled_spec_of_each_kind().items()))
async def test_a_spec_of_each_kind_checks_and_has_an_outline(client, kind, spec):
    from mechdsl.lang import parse

    text = spec.read_text(encoding="utf-8")
    assert await opened(client, spec.name, text) == []
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(
        text_document=types.TextDocumentIdentifier(uri=uri_of(spec.name))))
    statements = parse(text).statements
    assert len(symbols) == len(statements)
    assert [s.range.start.line + 1 for s in symbols] == [s.span.line for s in statements]
    details = {s.name: s.detail for s in symbols}
    for name, what in EXPECTED_SYMBOLS.get(spec.name, {}).items():
        assert details[name] == what, (kind, name)


async def test_completion_offers_keywords_at_a_statement_start_and_names_in_scope(client):
    text = TINY.read_text(encoding="utf-8")
    await opened(client, "complete.mech", text)
    document = types.TextDocumentIdentifier(uri=uri_of("complete.mech"))
    client.text_document_did_change(types.DidChangeTextDocumentParams(  # typing: the text does not parse now
        text_document=types.VersionedTextDocumentIdentifier(uri=document.uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text + "con")]))
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=document, position=types.Position(17, 3)))
    labels = {item.label for item in result.items}
    assert {"constraint", "param", "theta", "Q", "N"} <= labels

    line = position_of(text, "maximize", "p[k]")  # inside sum(k in K, ...): k is in scope
    result = await client.text_document_completion_async(types.CompletionParams(text_document=document, position=line))
    labels = {item.label for item in result.items}
    assert "k" in labels and "log" in labels and "constraint" not in labels
