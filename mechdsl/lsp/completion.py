"""Completion: statement keywords where a statement may start, names in scope everywhere.

Keywords are the parser's `STATEMENT_KEYWORDS` (every kind's; the checker says which a kind
allows); names are those of the symbol index at the cursor (globals, and the locals of the
`let f(...)`, `sum(k in K, ...)` or quantifier around it) and the built-in functions.
While the text does not parse, the names of the last text that did are offered.
"""

from __future__ import annotations

import re

from lsprotocol import types

from mechdsl.lang.lowering import BUILTIN_FUNCTIONS
from mechdsl.lang.parser import STATEMENT_KEYWORDS
from mechdsl.lsp.symbols import SymbolIndex, what_is

_WORD_BEFORE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")
_KIND = {"function": types.CompletionItemKind.Function, "size": types.CompletionItemKind.Constant,
         "constant": types.CompletionItemKind.Constant}


def at_statement_start(line_before_cursor: str) -> bool:
    """Whether only the word being typed stands before the cursor on its line."""
    return not _WORD_BEFORE.sub("", line_before_cursor).strip()


def completions(index: SymbolIndex | None, line_before_cursor: str, line: int, col: int) -> list[types.CompletionItem]:
    """The completion items at 1-based (line, col), `line_before_cursor` the text before it."""
    items = []
    if at_statement_start(line_before_cursor):
        items += [types.CompletionItem(label=k, kind=types.CompletionItemKind.Keyword, detail="statement")
                  for k in STATEMENT_KEYWORDS]
    if index is not None:
        for name, declaration in sorted(index.names_at(line, col).items()):
            what = "local" if declaration.local else what_is(declaration.statement)
            items.append(types.CompletionItem(label=name, detail=what,
                                              kind=_KIND.get(what, types.CompletionItemKind.Variable)))
    items += [types.CompletionItem(label=f, kind=types.CompletionItemKind.Function, detail="built-in")
              for f in (*BUILTIN_FUNCTIONS, "sum")]
    return items
