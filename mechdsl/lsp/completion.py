"""Completion: statement keywords where a statement may start, names in scope everywhere.

Keywords are the parser's `STATEMENT_KEYWORDS` (every kind's; the checker says which a kind
allows); names are those of the symbol index at the cursor (globals, and the locals of the
`let f(...)`, `sum(k in K, ...)` or quantifier around it) and the built-in functions.
While the text does not parse, the names of the last text that did are offered. Inside a
`train { ... }` block: the settings a train block may set (`mechdsl.lang.train_schema`) and,
after `setting =`, that setting's choices (`algorithm = ` lists the algorithms); inside a
`period { ... }` block its items `type` and `menu`.
"""

from __future__ import annotations

import re

from lsprotocol import types

from mechdsl.lang.lowering import BUILTIN_FUNCTIONS
from mechdsl.lang.parser import STATEMENT_KEYWORDS
from mechdsl.lang.train_schema import RUN_SETTINGS, STRING_CHOICES, hyperparameters_of
from mechdsl.lsp.symbols import SymbolIndex, what_is

_WORD_BEFORE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")
_KIND = {"function": types.CompletionItemKind.Function, "size": types.CompletionItemKind.Constant,
         "constant": types.CompletionItemKind.Constant}


def at_statement_start(line_before_cursor: str) -> bool:
    """Whether only the word being typed stands before the cursor on its line."""
    return not _WORD_BEFORE.sub("", line_before_cursor).strip()


_CODE = re.compile(r'"[^"\n]*"|#[^\n]*|[{}]')
_BLOCK_HEAD = re.compile(r"\b(train|period|auction)\b[^{}]*$")
_SETTING_BEFORE = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*=\s*[A-Za-z_]*$")
_ALGORITHM = re.compile(r"\balgorithm\s*=\s*([A-Za-z_][A-Za-z0-9_]*)")


def enclosing_block(text_before_cursor: str) -> str | None:
    """"train", "period" or "auction" when the cursor is inside that block's braces, else None."""
    opened: list[int] = []
    for match in _CODE.finditer(text_before_cursor):
        if match.group() == "{":
            opened.append(match.start())
        elif match.group() == "}" and opened:
            opened.pop()
    if not opened:
        return None
    head = _BLOCK_HEAD.search(text_before_cursor[: opened[-1]])
    return head.group(1) if head else None


def _train_items(text_before_cursor: str) -> list[types.CompletionItem]:
    setting = _SETTING_BEFORE.search(text_before_cursor)
    if setting is not None:
        return [types.CompletionItem(label=choice, kind=types.CompletionItemKind.EnumMember, detail=setting.group(1))
                for choice in STRING_CHOICES.get(setting.group(1), ())]
    algorithm = _ALGORITHM.findall(text_before_cursor)
    names = {**{name: "run setting" for name in RUN_SETTINGS},
             **{name: "hyperparameter" for name in hyperparameters_of(algorithm[-1] if algorithm else None)}}
    return [types.CompletionItem(label=name, kind=types.CompletionItemKind.Property, detail=what)
            for name, what in sorted(names.items())]


def completions(index: SymbolIndex | None, line_before_cursor: str, line: int, col: int,
                text_before_cursor: str = "") -> list[types.CompletionItem]:
    """The completion items at 1-based (line, col), `line_before_cursor` the text before it on
    its line and `text_before_cursor` all the text before it (for the block around it)."""
    items = []
    block = enclosing_block(text_before_cursor)
    if block == "train":
        items = _train_items(text_before_cursor)
        if _SETTING_BEFORE.search(text_before_cursor) is not None and items:
            return items  # a string setting's value: only its choices
    elif block == "period":
        items = [types.CompletionItem(label=k, kind=types.CompletionItemKind.Keyword, detail="period item")
                 for k in ("type", "menu")]
    elif at_statement_start(line_before_cursor):
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
