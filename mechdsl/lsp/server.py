"""The `.mech` language server: one handler per LSP feature, wired on pygls 2.

* diagnostics on open (at once) and on change (after `DEBOUNCE_SECONDS` without another
  change), from `mechdsl.lsp.diagnostics.check_text`, run on one checker thread so the
  event loop keeps answering; a result for a text the user has since changed is dropped;
* hover (`mechdsl.lsp.hover`), go-to-definition, references and the outline from the symbol
  index (`mechdsl.lsp.symbols`) of the current text, parsed off the event loop and cached;
* a contract item's derivation from `mechdsl.lsp.derivations.DerivationCache`, started
  `DERIVE_AFTER_SECONDS` after a contract checks if the text stays as it is (or by hover), and
  awaited by hover for at most `HOVER_WAIT_SECONDS`;
* formatting through `mechdsl fmt`'s `canonical_text`, completion (`mechdsl.lsp.completion`).

Positions cross the boundary once: requests are turned into characters with the document's
position codec and answers back into the client's units (UTF-16 unless it asked otherwise).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from mechdsl import __version__
from mechdsl.kinds.contract import CONTRACT
from mechdsl.lang import ast, parse
from mechdsl.lang.diagnostics import SpecError, source_lines
from mechdsl.lsp import completion, hover
from mechdsl.lsp.derivations import DerivationCache
from mechdsl.lsp.diagnostics import CheckedText, check_text, lsp_range, to_lsp
from mechdsl.lsp.symbols import SymbolIndex, declared_name, what_is

DEBOUNCE_SECONDS = 0.08
"""Quiet time after a change before the text is checked: one check per burst of keystrokes.
It counts in the time to diagnostics (issue 32: under 300 ms for the bundled specs)."""

DERIVE_AFTER_SECONDS = 1.0
"""Quiet time after a contract checks before its derivation starts in the background: while the
user types, derivations of texts about to change would only take CPU from the checks."""

HOVER_WAIT_SECONDS = 3.0
"""How long hover waits for a derivation under way before saying it is still running."""


_SYMBOL_KIND = {
    "mechanism": types.SymbolKind.Module, "game": types.SymbolKind.Module, "scenario": types.SymbolKind.Module,
    "size": types.SymbolKind.Constant, "constant": types.SymbolKind.Constant, "function": types.SymbolKind.Function,
    "allocation": types.SymbolKind.Field, "payment": types.SymbolKind.Field, "strategy": types.SymbolKind.Field,
    "action": types.SymbolKind.Field, "principal": types.SymbolKind.Class, "agent": types.SymbolKind.Class,
    "leader": types.SymbolKind.Class, "follower": types.SymbolKind.Class, "constraint": types.SymbolKind.Property,
}


class MechLanguageServer(LanguageServer):
    """pygls's server plus what the handlers share: the checker thread, the pending checks,
    the last symbol index of each document and the derivation cache."""

    def __init__(self) -> None:
        super().__init__("mechdsl", __version__)
        self.checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mechdsl-check")
        self.pending: dict[str, asyncio.Task] = {}
        self.last_index: dict[str, SymbolIndex] = {}  # the last text of each document that parsed
        self.indexes: OrderedDict[str, SymbolIndex | None] = OrderedDict()  # by text hash, the last few
        self.indexes_lock = threading.Lock()
        self.derivations = DerivationCache()

    def index_of(self, source: str, path: str, spec: ast.Spec | None = None) -> SymbolIndex | None:
        """The symbol index of `source` (None when it does not parse), cached by text; `spec` is
        its parse tree when the caller has it. Called from worker threads, hence the lock."""
        key = hashlib.sha256(source.encode("utf-8")).hexdigest()
        with self.indexes_lock:
            if key in self.indexes:
                return self.indexes[key]
        try:
            index = SymbolIndex(spec if spec is not None else parse(source, path))
        except SpecError:
            index = None
        with self.indexes_lock:
            self.indexes[key] = index
            while len(self.indexes) > 8:
                self.indexes.popitem(last=False)
        return index


server = MechLanguageServer()


# ================================================================ diagnostics
async def publish_diagnostics(ls: MechLanguageServer, uri: str, delay: float) -> None:
    """Check the document's text after `delay` seconds and publish what the checker found,
    unless the text changed meanwhile (a newer check is then pending)."""
    await asyncio.sleep(delay)
    document = ls.workspace.get_text_document(uri)
    source, version = document.source, document.version
    loop = asyncio.get_running_loop()
    checked: CheckedText = await loop.run_in_executor(ls.checker, check_text, source, document.path)
    if ls.workspace.get_text_document(uri).version != version:
        return
    lines = source_lines(source)
    codec = document.position_codec
    diagnostics = []
    for diagnostic in checked.diagnostics:
        converted = to_lsp(diagnostic)
        converted.range = codec.range_to_client_units(lines, converted.range)
        diagnostics.append(converted)
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, version=version,
                                                                        diagnostics=diagnostics))
    if checked.spec is not None:  # after publishing, and not cancelled by the next edit (whose text may not parse)
        indexing = loop.run_in_executor(None, ls.index_of, source, document.path, checked.spec)
        indexing.add_done_callback(lambda done: _keep_index(ls, uri, done))
    if not checked.diagnostics and checked.kind == CONTRACT.name:  # hover derives contract items
        await asyncio.sleep(DERIVE_AFTER_SECONDS)  # a newer edit cancels this task here
        ls.derivations.submit(source, document.path)  # for hover, in the background


def _keep_index(ls: MechLanguageServer, uri: str, done: asyncio.Future) -> None:
    if not done.cancelled() and done.exception() is None and done.result() is not None:
        ls.last_index[uri] = done.result()


def schedule_check(ls: MechLanguageServer, uri: str, delay: float) -> None:
    previous = ls.pending.pop(uri, None)
    if previous is not None:
        previous.cancel()
    ls.pending[uri] = asyncio.get_running_loop().create_task(publish_diagnostics(ls, uri, delay))


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
async def did_open(ls: MechLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    schedule_check(ls, params.text_document.uri, 0.0)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
async def did_change(ls: MechLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
    schedule_check(ls, params.text_document.uri, DEBOUNCE_SECONDS)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: MechLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    pending = ls.pending.pop(uri, None)
    if pending is not None:
        pending.cancel()
    ls.last_index.pop(uri, None)
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


# ================================================================ names
async def _name_at(ls: MechLanguageServer, uri: str, position: types.Position):
    """(document, index, occurrence) of the name at a client position; occurrence None off a name."""
    document = ls.workspace.get_text_document(uri)
    source = document.source
    index = await asyncio.get_running_loop().run_in_executor(None, ls.index_of, source, document.path)
    if index is None:
        return document, None, None
    lines = source_lines(source)
    at = document.position_codec.position_from_client_units(lines, position)
    return document, index, index.at(at.line + 1, at.character + 1)


def _client_range(document, span: ast.Span) -> types.Range:
    return document.position_codec.range_to_client_units(source_lines(document.source), lsp_range(span))


@server.feature(types.TEXT_DOCUMENT_HOVER)
async def on_hover(ls: MechLanguageServer, params: types.HoverParams) -> types.Hover | None:
    document, index, occurrence = await _name_at(ls, params.text_document.uri, params.position)
    if occurrence is None:
        return None
    declaration = occurrence.declaration
    parts = [hover.declaration_markdown(index, declaration)]
    statement = declaration.statement
    if isinstance(statement, ast.VariableDecl) and not declaration.local:  # only contracts declare them
        future = ls.derivations.submit(document.source, document.path)
        try:
            derivation = await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), HOVER_WAIT_SECONDS)
            parts.append(hover.derivation_markdown(declaration.name, derivation, running=False))
        except TimeoutError:
            parts.append(hover.derivation_markdown(declaration.name, None, running=True))
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value="\n\n---\n\n".join(parts)),
                       range=_client_range(document, occurrence.token.span))


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
async def on_definition(ls: MechLanguageServer, params: types.DefinitionParams) -> types.Location | None:
    document, _, occurrence = await _name_at(ls, params.text_document.uri, params.position)
    if occurrence is None:
        return None
    return types.Location(uri=document.uri, range=_client_range(document, occurrence.declaration.site.span))


@server.feature(types.TEXT_DOCUMENT_REFERENCES)
async def on_references(ls: MechLanguageServer, params: types.ReferenceParams) -> list[types.Location] | None:
    document, index, occurrence = await _name_at(ls, params.text_document.uri, params.position)
    if occurrence is None:
        return None
    declaration = occurrence.declaration
    return [types.Location(uri=document.uri, range=_client_range(document, token.span))
            for token in index.uses(declaration)
            if params.context.include_declaration or token != declaration.site]


@server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
async def on_document_symbol(ls: MechLanguageServer,
                             params: types.DocumentSymbolParams) -> list[types.DocumentSymbol] | None:
    document = ls.workspace.get_text_document(params.text_document.uri)
    index = await asyncio.get_running_loop().run_in_executor(None, ls.index_of, document.source, document.path)
    if index is None:
        index = ls.last_index.get(document.uri)
        if index is None or index.spec.source != document.source:
            return None
    symbols = []
    for statement in index.spec.statements:
        name = declared_name(statement)
        declaration = index.declarations.get(name) if name else None
        if declaration is not None and declaration.statement is statement:
            what, label, selection = what_is(statement), name, declaration.site.span
        else:
            first = index.statement_text(statement).strip().splitlines()[0]
            what, label, selection = "statement", first if len(first) <= 60 else first[:57] + "...", statement.span
        symbols.append(types.DocumentSymbol(
            name=label, detail=what, kind=_SYMBOL_KIND.get(what, types.SymbolKind.Variable),
            range=_client_range(document, statement.span), selection_range=_client_range(document, selection)))
    return symbols


# ================================================================ editing
@server.feature(types.TEXT_DOCUMENT_FORMATTING)
async def on_formatting(ls: MechLanguageServer, params: types.DocumentFormattingParams) -> list[types.TextEdit] | None:
    """`mechdsl fmt`: the canonical text, verified to mean the same spec; nothing for a spec
    with mistakes (the diagnostics show them) or if the formatter would change its meaning."""
    from mechdsl.cli.fmt_cmd import FormatterChangedMeaning, canonical_text

    document = ls.workspace.get_text_document(params.text_document.uri)
    source = document.source
    try:
        text = await asyncio.get_running_loop().run_in_executor(ls.checker, canonical_text, source, document.path)
    except SpecError:
        return None
    except FormatterChangedMeaning as error:
        ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=f"mechdsl fmt: {error}"))
        return None
    if text == source:
        return []
    lines = source_lines(source)
    end = types.Position(len(lines), 0)
    return [types.TextEdit(range=types.Range(types.Position(0, 0), end), new_text=text)]


@server.feature(types.TEXT_DOCUMENT_COMPLETION)
async def on_completion(ls: MechLanguageServer, params: types.CompletionParams) -> types.CompletionList:
    document = ls.workspace.get_text_document(params.text_document.uri)
    index = await asyncio.get_running_loop().run_in_executor(None, ls.index_of, document.source, document.path)
    index = index or ls.last_index.get(document.uri)
    lines = source_lines(document.source)
    at = document.position_codec.position_from_client_units(lines, params.position)
    before = lines[at.line][: at.character] if at.line < len(lines) else ""
    text_before = "\n".join([*lines[: at.line], before])
    items = completion.completions(index, before, at.line + 1, at.character + 1, text_before)
    return types.CompletionList(is_incomplete=False, items=items)


@server.feature(types.SHUTDOWN)
def on_shutdown(ls: MechLanguageServer, params) -> None:
    ls.derivations.shutdown()
    ls.checker.shutdown(wait=False, cancel_futures=True)


def serve() -> None:
    """Serve one client over stdin/stdout until it exits."""
    server.start_io()
