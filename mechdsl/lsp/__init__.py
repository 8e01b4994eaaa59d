"""Editor support: a Language Server Protocol server for `.mech` specs (`mechdsl lsp`).

One module per idea: `diagnostics` (what `mechdsl check` reports, as LSP diagnostics),
`symbols` (declarations and uses of every name, from the AST's spans), `hover` (a name's
declaration; a contract item's derived least payments), `derivations` (`mechdsl derive` in a
background process, cached per spec text), `completion`, and `server` (the pygls wiring).
Only `server` needs pygls (the optional extra: `pip install 'mechdsl[lsp]'`); `symbols` and
`hover` need nothing but mechdsl.
"""
