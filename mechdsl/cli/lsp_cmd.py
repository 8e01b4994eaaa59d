"""`mechdsl lsp`: the `.mech` language server over stdio, for editors (editors/vscode/)."""

from __future__ import annotations

from mechdsl.errors import UsageError


def register(subparsers) -> None:
    parser = subparsers.add_parser("lsp", help="language server for editors over stdio: diagnostics, hover with "
                                   "derived payments, definitions, outline, formatting, completion")
    parser.set_defaults(func=run)


def run(args) -> int:
    try:
        import pygls  # noqa: F401
    except ModuleNotFoundError:
        raise UsageError("mechdsl lsp needs pygls, which is not installed",
                         hint="pip install 'mechdsl[lsp]'") from None
    from mechdsl.lsp.server import serve

    serve()
    return 0
