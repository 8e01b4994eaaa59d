"""`mechdsl compile SPEC [-o DIR] [--force]`: generate the batched PyTorch package of a spec."""

from __future__ import annotations

from pathlib import Path

from mechdsl.cli.output import load_model, read_spec


def register(subparsers) -> None:
    parser = subparsers.add_parser("compile", help="generate a batched PyTorch environment package")
    parser.add_argument("spec", help="path of a .mech file")
    parser.add_argument("-o", "--out", metavar="DIR", default=None,
                        help="output folder (default: generated/<mechanism name>/)")
    parser.add_argument("--force", action="store_true",
                        help="write into an existing folder mechdsl did not create (other files are kept)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from mechdsl.pipelines import pipeline_of

    source = read_spec(args.spec)
    model = load_model(args.spec)
    out = Path(args.out) if args.out else Path("generated") / model.name
    written = pipeline_of(model).compile(model, out, force=args.force, source=source)
    print(f"compiled {model.name} into {out}/")
    for path in written:
        print(f"  {path}")
    return 0
