"""Entry point of the `mechdsl` command: argument parsing and the error boundary.

Every subcommand lives in its own module under `mechdsl/cli/` and exposes
`register(subparsers)`, which adds its parser and sets `func`. User mistakes are the error
types of `mechdsl.errors` (`SpecError` prints positioned messages with carets, every other
`MechdslError` one line and its hint) and exit 2; anything else is a bug in mechdsl and
prints one line asking for a report (the traceback only with `--debug`).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from mechdsl import __version__
from mechdsl.cli.output import positioned_refusal, print_error, read_spec
from mechdsl.errors import MechdslError
from mechdsl.lang.diagnostics import SpecError, render_all

SUBCOMMANDS = ("check", "fmt", "derive", "solve", "compile", "train", "eval", "run", "sweep")
TOOLS = ("lsp",)  # commands for tools around the language, not verbs on a spec (mechdsl.kinds.VERBS)
EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 3
EXIT_CLOSED_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a command whose reader went away


DEBUG_HELP = "show Python tracebacks of internal errors (before or after the subcommand)"
EPILOG = """\
options shared by the subcommands:
  --set NAME=VALUE  on every subcommand that loads a spec (check, derive, solve, compile,
                    train, run, sweep): override a size or constant of the spec before it is
                    checked, e.g. --set K=5 (re-derives the model for 5 types) or
                    --set N=6; repeatable. `solve` also pins a random parameter or a state
                    entry (--set sigma=0.7). `fmt` formats the text as written.
  --debug           before or after the subcommand: tracebacks of internal errors.

Run `mechdsl COMMAND --help` for the options of one subcommand."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mechdsl",
        description="Compile declarative mechanism-design specs (.mech) into derivations, "
                    "exact optima, batched PyTorch environments and trained policies.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mechdsl {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS + TOOLS:
        try:
            module = importlib.import_module(f"mechdsl.cli.{name}_cmd")
        except ModuleNotFoundError as error:
            if error.name != f"mechdsl.cli.{name}_cmd":
                raise
            continue  # subcommand not available in this build
        module.register(subparsers)
    for subparser in subparsers.choices.values():
        # SUPPRESS: a subcommand without --debug leaves the global flag's value alone
        subparser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return parser


def require_verb(args) -> None:
    """A verb on a spec whose kind does not support it (`derive` of a game): one line, exit 2,
    before the command starts (`mechdsl.kinds.Kind.require`)."""
    path = getattr(args, "spec", None)
    if path is None:
        return
    from mechdsl.kinds import kind_of_source

    kind_of_source(read_spec(path), path).require(args.command, path)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        require_verb(args)
        return int(args.func(args) or 0)
    except SpecError as error:
        print(render_all(error.path, error.source, error.diagnostics, color=sys.stderr.isatty()), file=sys.stderr)
        count = len(error.diagnostics)
        if count > 1:
            print(f"{count} errors", file=sys.stderr)
        return EXIT_USER_ERROR
    except MechdslError as error:
        positioned = positioned_refusal(error, getattr(args, "spec", None))
        if positioned is not None:
            print(render_all(positioned.path, positioned.source, positioned.diagnostics, color=sys.stderr.isatty()),
                  file=sys.stderr)
            return EXIT_USER_ERROR
        print_error(str(error), hint=error.hint)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _closed_pipe()
    except Exception as error:  # noqa: BLE001 - the boundary that keeps tracebacks from users
        if args.debug:
            traceback.print_exc()
        print(f"mechdsl: internal error ({type(error).__name__}: {error}); this is a bug in mechdsl, "
              "please report it with the spec and the command (rerun with --debug for details)",
              file=sys.stderr)
        return EXIT_INTERNAL_ERROR


def _closed_pipe() -> int:
    """The reader of stdout went away (`mechdsl check SPEC | head -1`): end quietly. stdout is
    pointed at /dev/null so the interpreter's final flush cannot raise again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_CLOSED_PIPE


if __name__ == "__main__":
    sys.exit(main())
