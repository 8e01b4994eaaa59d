"""`mechdsl check SPEC`: parse and check a spec, print a one-screen summary of its model."""

from __future__ import annotations

from mechdsl.cli.output import add_set_argument, load_model, parse_overrides


def register(subparsers) -> None:
    parser = subparsers.add_parser("check", help="parse and check a spec, print a one-screen summary of the model")
    parser.add_argument("spec", help="path of a .mech file")
    add_set_argument(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    model = load_model(args.spec, parse_overrides(args.set))
    print(model.summary())
    return 0
