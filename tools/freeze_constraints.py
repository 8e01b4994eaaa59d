"""Write constraints.txt: the exact versions, in this environment, of every package that
mechdsl and the extras CI installs (dev, gym, ray) depend on, directly or not.

The README's two commands and .ci/run install with `pip install -c constraints.txt ...`, so a
new upstream release cannot change what a newcomer or CI gets between two sessions (SciPy
1.17's SLSQP turned main red without a change of ours). Run this after the suite has passed
in an environment built from tools/test_newest.sh's upgrade, and commit the file with the
suite's result in the message:

    python tools/freeze_constraints.py            # writes constraints.txt
    python tools/freeze_constraints.py --check    # exit 1 if the environment differs from it
"""

from __future__ import annotations

import argparse
import re
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXTRAS = ("dev", "gym", "ray")
HEADER = ("# Versions the test suite passed with (tools/freeze_constraints.py; newest check: tools/test_newest.sh).\n"
          "# Used as `pip install -c constraints.txt ...` by the README and .ci/run.\n")


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _extras_of(requirement: str) -> set[str]:
    match = re.match(r"[^\[;]+\[([^\]]+)\]", requirement)
    return {e.strip() for e in match.group(1).split(",")} if match else set()


def _applies(requirement: str, extras: set[str]) -> bool:
    """A requirement's environment marker, evaluated for this interpreter and `extras`."""
    if ";" not in requirement:
        return True
    from packaging.markers import Marker

    marker = Marker(requirement.split(";", 1)[1])
    return any(marker.evaluate({"extra": e}) for e in (extras or {""}))


def closure(root: str, extras: tuple[str, ...]) -> dict[str, str]:
    """{distribution name: installed version} of `root[extras]` and everything it requires."""
    seen: dict[str, str] = {}
    todo = [(root, set(extras))]
    while todo:
        name, wanted = todo.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a marker-excluded or optional dependency that is not installed here
        key = dist.metadata["Name"].lower().replace("_", "-")
        if key in seen and not wanted:
            continue
        seen[key] = dist.version.split("+", 1)[0]  # "2.13.0+cpu": ==2.13.0 matches it (PEP 440 local label)
        for requirement in dist.requires or []:
            if _applies(requirement, wanted):
                todo.append((_name(requirement), _extras_of(requirement)))
    seen.pop("mechdsl", None)
    return dict(sorted(seen.items()))


def render(pins: dict[str, str]) -> str:
    return HEADER + "".join(f"{name}=={version}\n" for name, version in pins.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare the environment with constraints.txt")
    parser.add_argument("--out", type=Path, default=ROOT / "constraints.txt")
    args = parser.parse_args(argv)
    text = render(closure("mechdsl", EXTRAS))
    if args.check:
        current = args.out.read_text() if args.out.exists() else ""
        if current != text:
            print(f"the installed versions differ from {args.out}", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text)
    print(f"wrote {args.out} ({text.count('==')} pins)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
