"""Writing a generated package into its folder: all or nothing, and nothing of the user's lost.

Every generator (contract, game, scenario) renders its files ({name: text}, the marker
`.mechdsl-generated` listing them included) and hands them to `write_package`, which

* refuses a target that is a file, or a non-empty folder without mechdsl's marker unless
  `force` (`check_target`, cheap enough to call before rendering);
* refuses to replace a file NOT listed in the folder's marker (the user's) unless
  `replace_unlisted` (`plan_package_write` classifies every existing file);
* writes the whole new package into a staging folder beside the target
  (`.NAME.mechdsl-staging`, same parent, so the renames below never cross a filesystem),
  carries every entry of the user's into it (hard links: the same bytes, no copy), and
  swaps the folders with two renames: target -> `.NAME.mechdsl-backup`, staging -> target,
  then deletes the backup. A reader sees the old package or the new one, never a mixture.

A write that fails puts the old folder back before it reports the error. A write that is
killed leaves at most the staging folder, the backup or both; the next write to the same
target (`recover_interrupted_write`, run first) restores the backup when the target is
missing (killed between the renames: the backup is the whole old package) or deletes it
when the target is there (killed after the swap), and deletes the staging folder. The
scratch folder `.NAME.mechdsl-render` (`render_beside`, where `mechdsl compile` renders
before it lists what it replaces) is cleaned the same way. Two writes to one target at
the same time are not supported.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mechdsl.errors import CompileError, UsageError

MARKER = ".mechdsl-generated"
STAGING, BACKUP, RENDER = ".mechdsl-staging", ".mechdsl-backup", ".mechdsl-render"
# Python's cache of the old modules is not carried into the new package: it is rebuilt on
# import, and a stale .pyc could be taken for a new module of the same size written in the
# same second (the .pyc records the source's mtime in whole seconds).
NOT_CARRIED = frozenset({"__pycache__"})


def sibling(out: Path, role: str) -> Path:
    """The hidden folder beside `out` that plays `role` (STAGING, BACKUP or RENDER)."""
    return out.parent / f".{out.name}{role}"


def written_by_mechdsl(folder: Path) -> list[str] | None:
    """The file names listed in `folder`'s marker; None when there is no marker."""
    marker = folder / MARKER
    if not marker.is_file():
        return None
    return [line.strip() for line in marker.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


@dataclass(frozen=True)
class PackageWrite:
    """What writing a package into an existing folder does to the files already there.

    `replaced`: existing files listed in mechdsl's marker whose text changes; `unchanged`:
    existing files whose text is already the generated one; `conflicts`: existing files NOT
    listed in the marker (the user's) whose text would change; `removed`: files of the old
    marker that are no longer generated."""

    out: Path
    replaced: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


def check_target(out: Path, force: bool = False) -> None:
    """Refuse (UsageError) a target that is a file, or a non-empty folder mechdsl did not
    create (no marker) unless `force`; cheap, so callers can check before rendering."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a folder")
    if out.is_dir() and written_by_mechdsl(out) is None and any(out.iterdir()) and not force:
        raise UsageError(f"{out} exists and was not created by mechdsl (no {MARKER} file); refusing to write into it",
                         hint="choose another folder with -o, or pass --force to add mechdsl's files to it "
                              "(files of yours are never replaced)")


def plan_package_write(out: Path, files: dict[str, str]) -> PackageWrite:
    """Classify the files already in `out` against the generated `files` ({name: text})."""
    if not out.is_dir():
        return PackageWrite(out)
    listed = set(written_by_mechdsl(out) or []) | {MARKER}
    replaced, unchanged, conflicts = [], [], []
    for name in sorted(files):
        path = out / name
        if not path.exists():
            continue
        if path.is_file() and path.read_bytes() == files[name].encode("utf-8"):
            unchanged.append(name)
        else:
            (replaced if name in listed and path.is_file() else conflicts).append(name)
    removed = [name for name in sorted(listed - set(files)) if "/" not in name and (out / name).is_file()]
    return PackageWrite(out, tuple(replaced), tuple(unchanged), tuple(conflicts), tuple(removed))


# ------------------------------------------------------------------ interrupted writes
def _remove(folder: Path) -> None:
    if folder.is_symlink() or folder.is_file():
        folder.unlink()
    elif folder.exists():
        shutil.rmtree(folder)


def recover_interrupted_write(out: Path) -> list[str]:
    """Undo or finish what a killed write to `out` left beside it (module docstring); the
    sentences saying what was done, none when nothing was left."""
    out = _real(out)
    done = []
    backup = sibling(out, BACKUP)
    if backup.is_dir() and not out.exists() and not out.is_symlink():
        os.rename(backup, out)
        done.append(f"restored {out} from {backup}, left by an interrupted compile")
    elif backup.exists() or backup.is_symlink():
        _remove(backup)
        done.append(f"removed {backup}, the old package left by an interrupted compile")
    render = sibling(out, RENDER)
    for leftover in (sibling(out, STAGING), render, sibling(render, STAGING)):
        if leftover.exists() or leftover.is_symlink():
            _remove(leftover)
            done.append(f"removed {leftover}, left by an interrupted compile")
    return done


# ------------------------------------------------------------------ writing
def _real(out: Path) -> Path:
    """The folder a target names, as an absolute path: a symlink's target (the link itself
    stays), and `.` a folder with a name and a parent that the renames can use."""
    return Path(out).resolve()


def _link_or_copy(source: str, destination: str) -> None:
    """The user's file in the new folder as a hard link (same bytes, no copy), or as a copy
    where the filesystem has no hard links."""
    try:
        os.link(source, destination, follow_symlinks=False)
    except OSError:
        shutil.copy2(source, destination, follow_symlinks=False)


def _carry(entry: Path, destination: Path) -> None:
    """Put the user's `entry` (file, folder or symlink) of the old folder into the new one."""
    if entry.is_symlink():
        os.symlink(os.readlink(entry), destination)
    elif entry.is_dir():
        shutil.copytree(entry, destination, symlinks=True, copy_function=_link_or_copy)
    else:
        _link_or_copy(str(entry), str(destination))


def _stage(staging: Path, files: dict[str, str], old: Path | None, dropped: set[str]) -> None:
    """The whole new folder in `staging`: the generated `files`, then (when replacing `old`)
    every entry of `old` that is not generated and not in `dropped`, with `old`'s mode."""
    staging.mkdir()
    for name, text in files.items():
        (staging / name).write_text(text, encoding="utf-8", newline="\n")
    if old is None:
        return
    for entry in sorted(old.iterdir()):
        if entry.name not in files and entry.name not in dropped and entry.name not in NOT_CARRIED:
            _carry(entry, staging / entry.name)
    shutil.copymode(old, staging)


def _swap(out: Path, staging: Path) -> None:
    """`staging` becomes `out` (module docstring); on an error the old folder is put back.
    A current directory in `out` would be left in the deleted backup: it moves to the same
    path in the new folder."""
    backup = sibling(out, BACKUP)
    cwd = Path(os.getcwd())
    os.rename(out, backup)
    try:
        os.rename(staging, out)
    except BaseException:
        if not out.exists():
            os.rename(backup, out)
        raise
    if cwd == out or out in cwd.parents:
        os.chdir(cwd if cwd.is_dir() else out)
    shutil.rmtree(backup, ignore_errors=True)  # the new package is in place; a rest goes next time


def write_package(out: Path, render_files: Callable[[], dict[str, str]], force: bool = False,
                  replace_unlisted: bool = False) -> list[Path]:
    """Write the files `render_files()` returns ({name: text}, the marker included) into `out`
    (the rules of the module docstring); returns the paths written (sorted). Shared by every
    spec kind's generator. A folder that already holds exactly these files is left alone."""
    out = Path(out)
    real = _real(out)
    recover_interrupted_write(out)
    check_target(out, force)
    files = render_files()
    plan = plan_package_write(out, files)
    if plan.conflicts and not replace_unlisted:
        names = ", ".join(plan.conflicts)
        raise UsageError(f"{out} holds file(s) mechdsl did not write that compiling would replace: {names}; "
                         "nothing was written",
                         hint="choose another folder with -o, move those files away, or pass "
                              "--replace-user-files to replace them")
    paths = sorted(out / name for name in files)
    if real.is_dir() and len(plan.unchanged) == len(files) and not plan.removed:
        return paths
    staging = sibling(real, STAGING)
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
        _stage(staging, files, real if real.is_dir() else None, set(plan.removed))
        if real.is_dir():
            _swap(real, staging)
        else:
            os.rename(staging, real)
    except OSError as error:
        raise CompileError(f"could not write {out}: {error}; the folder was left as it was",
                           hint="check the disk space and the permissions of the folder") from None
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return paths


def render_beside(out: Path, compile_into: Callable[[Path], object]) -> dict[str, str]:
    """{file name: text} of a package that `compile_into(folder)` (a kind's `compile`) writes
    into the scratch folder `.NAME.mechdsl-render` beside `out`, read back and removed. Beside
    the target rather than in the system's temporary folder, so that a killed compile leaves
    nothing behind that the next write to `out` does not clean up."""
    out = _real(Path(out))
    recover_interrupted_write(out)
    scratch = sibling(out, RENDER)
    scratch.parent.mkdir(parents=True, exist_ok=True)
    try:
        compile_into(scratch)
        return {path.name: path.read_text(encoding="utf-8") for path in sorted(scratch.iterdir())}
    finally:
        _remove(scratch)


__all__ = ["BACKUP", "MARKER", "PackageWrite", "RENDER", "STAGING", "check_target", "plan_package_write",
           "recover_interrupted_write", "render_beside", "sibling", "write_package", "written_by_mechdsl"]
