"""`mechdsl compile SPEC [-o DIR] [--force] [--replace-user-files]`: generate the batched
PyTorch package of a spec.

Nothing of the user's is replaced without being asked: the package is rendered first (into
the scratch folder `.NAME.mechdsl-render` beside the target), then every existing file it
would replace is listed before it is replaced. Only files listed in the folder's
`.mechdsl-generated` marker are replaced; a file of the user's with a generated file's name
stops the compile (exit 2, nothing written) unless `--replace-user-files`. The new package
replaces the old one all at once (`mechdsl.codegen.package_write`); what an interrupted
compile left beside the target is restored or removed first, and said.
"""

from __future__ import annotations

from pathlib import Path

from mechdsl.cli.arguments import check_writable_folder
from mechdsl.cli.output import add_set_argument, load_model, parse_overrides, read_spec


def register(subparsers) -> None:
    parser = subparsers.add_parser("compile", help="generate the batched PyTorch env package (generated/<name>/: env.py, "
                                   "formulas.py, train.py, spec.json); lists every file it replaces")
    parser.add_argument("spec", help="path of a .mech file")
    parser.add_argument("-o", "--out", metavar="DIR", default=None,
                        help="output folder (default: generated/<mechanism name>/)")
    parser.add_argument("--force", action="store_true",
                        help="also write into an existing folder mechdsl did not create; files of yours are "
                             "kept (a name clash stops the compile unless --replace-user-files)")
    parser.add_argument("--replace-user-files", action="store_true",
                        help="replace files of yours that have the name of a generated file (listed first)")
    add_set_argument(parser)
    parser.set_defaults(func=run)


def rendered_package(pipeline, model, source: str, out: Path) -> dict[str, str]:
    """{file name: text} of the package, rendered into a scratch folder beside `out` (not the
    system's temporary folder, so a killed compile leaves nothing the next one does not clean)."""
    from mechdsl.codegen.package_write import render_beside

    return render_beside(out, lambda folder: pipeline.compile(model, folder, source=source))


def describe_write(plan) -> list[str]:
    """The lines that name every existing file the write replaces or removes."""
    lines = []
    for label, names in (("replacing", plan.replaced), ("replacing files of yours (--replace-user-files)",
                                                         plan.conflicts), ("removing (no longer generated)",
                                                                           plan.removed)):
        if names:
            lines.append(f"{label}: " + ", ".join(str(plan.out / name) for name in names))
    if plan.unchanged:
        lines.append(f"unchanged: {len(plan.unchanged)} file(s)")
    return lines


def run(args) -> int:
    from mechdsl.codegen.package_write import (check_target, plan_package_write, recover_interrupted_write,
                                               write_package)
    from mechdsl.kinds import kind_of_model

    source = read_spec(args.spec)
    overrides = parse_overrides(args.set)
    model = load_model(args.spec, overrides)
    if overrides:  # the package's spec.mech says which values it was compiled with
        source = "# compiled with " + " ".join(f"--set {k}={v:g}" for k, v in overrides.items()) + "\n" + source
    out = Path(args.out) if args.out else Path("generated") / model.name
    for line in recover_interrupted_write(out):
        print(line)
    check_target(out, args.force)  # before the (slower) rendering
    check_writable_folder(out, "-o" if args.out else "output folder")
    files = rendered_package(kind_of_model(model).pipeline(), model, source, out)
    plan = plan_package_write(out, files)
    if not plan.conflicts or args.replace_user_files:
        for line in describe_write(plan):
            print(line)
    written = write_package(out, lambda: files, force=args.force, replace_unlisted=args.replace_user_files)
    print(f"compiled {model.name} into {out}/")
    for path in written:
        print(f"  {path}")
    return 0
