"""Replacing a package is all or nothing (`mechdsl.codegen.package_write`).

A recompile stages the whole new package beside the target and swaps the folders with two
renames. Here the write fails or the process dies (`os._exit`, as a kill would) at each
step of the swap, and the target is then the whole old package or the whole new one
(between the two renames it is missing, and the backup holds the whole old package); the
next write restores or cleans up whatever was left. User files survive every recompile.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from mechdsl.cli.main import main
from mechdsl.codegen import package_write
from mechdsl.codegen.generate import render
from mechdsl.codegen.package_write import (BACKUP, MARKER, RENDER, STAGING, recover_interrupted_write, sibling,
                                           write_package)
from mechdsl.errors import CompileError
from mechdsl.lang import load_file

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "static_contract.mech"


@pytest.fixture(scope="module")
def packages() -> dict[int, dict[str, str]]:
    """The static contract's package for K = 2 and K = 3 ({file name: text})."""
    return {k: render(load_file(SPEC, {"K": k})) for k in (2, 3)}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def as_bytes(files: dict[str, str]) -> dict[str, bytes]:
    return {name: text.encode("utf-8") for name, text in files.items()}


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


@pytest.fixture
def old_package(tmp_path, packages) -> Path:
    out = tmp_path / "pkg"
    write_package(out, lambda: packages[2])
    assert snapshot(out) == as_bytes(packages[2]) and leftovers(out) == []
    return out


def test_the_two_packages_differ_in_every_python_module(packages):
    for name in ("env.py", "formulas.py", "spec.json"):
        assert packages[2][name] != packages[3][name]


# ------------------------------------------------------------------ a write that fails
def test_a_failure_between_the_renames_puts_the_old_package_back(old_package, packages, monkeypatch):
    real_rename, calls = os.rename, []

    def rename(source, destination):
        calls.append((Path(source).name, Path(destination).name))
        if len(calls) == 2:  # staging -> target
            raise OSError("no space left on device")
        real_rename(source, destination)

    monkeypatch.setattr(package_write.os, "rename", rename)
    with pytest.raises(CompileError, match="the folder was left as it was"):
        write_package(old_package, lambda: packages[3])
    assert calls == [("pkg", f".pkg{BACKUP}"), (f".pkg{STAGING}", "pkg"), (f".pkg{BACKUP}", "pkg")]  # put back
    assert snapshot(old_package) == as_bytes(packages[2])
    assert leftovers(old_package) == []


# ------------------------------------------------------------------ a write that is killed
KILLED_WRITE = """
import json, os, shutil, sys
from pathlib import Path
from mechdsl.codegen import package_write

out, files, step = Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text()), sys.argv[3]
calls = []

def dies_at(name, real):
    def call(*args, **kwargs):
        calls.append(name)
        if f"{name}{calls.count(name)}" == step:
            os._exit(137)
        return real(*args, **kwargs)
    return call

os.rename = dies_at("rename", os.rename)
shutil.rmtree = dies_at("rmtree", shutil.rmtree)
package_write.write_package(out, lambda: files)
"""


def killed_write(out: Path, files: dict[str, str], step: str) -> None:
    """Write `files` over `out` in a child process that dies at `step` (rename1: target ->
    backup, rename2: staging -> target, rmtree1: deleting the backup)."""
    payload = out.parent / "files.json"
    payload.write_text(json.dumps(files))
    child = subprocess.run([sys.executable, "-c", KILLED_WRITE, str(out), str(payload), step],
                           capture_output=True, text=True, timeout=300)
    payload.unlink()
    assert child.returncode == 137, child.stderr


@pytest.mark.parametrize("step", ["rename1", "rename2", "rmtree1"])
def test_a_killed_recompile_leaves_the_old_or_the_new_package_and_the_next_cleans_up(old_package, packages, step):
    old, new = as_bytes(packages[2]), as_bytes(packages[3])
    killed_write(old_package, packages[3], step)
    backup, staging = sibling(old_package, BACKUP), sibling(old_package, STAGING)
    if step == "rename1":  # staged, nothing swapped
        assert snapshot(old_package) == old and snapshot(staging) == new
    elif step == "rename2":  # between the renames: the backup is the whole old package
        assert not old_package.exists() and snapshot(backup) == old and snapshot(staging) == new
    else:  # swapped, the backup not yet deleted
        assert snapshot(old_package) == new and snapshot(backup) == old
    write_package(old_package, lambda: packages[3])
    assert snapshot(old_package) == new
    assert leftovers(old_package) == []


def test_recovery_alone_restores_the_old_package_when_the_target_is_missing(old_package, packages):
    killed_write(old_package, packages[3], "rename2")
    done = recover_interrupted_write(old_package)
    assert snapshot(old_package) == as_bytes(packages[2])
    assert leftovers(old_package) == [] and len(done) == 2 and done[0].startswith(f"restored {old_package}")
    assert recover_interrupted_write(old_package) == []


# ------------------------------------------------------------------ user files
def test_user_files_survive_a_recompile_unchanged(old_package, packages):
    (old_package / "notes.txt").write_bytes(b"\x00my notes\r\n")
    (old_package / "data").mkdir()
    (old_package / "data" / "table.csv").write_text("a,b\n1,2\n")
    (old_package / "link").symlink_to("notes.txt")
    inode = (old_package / "notes.txt").stat().st_ino
    os.chmod(old_package, 0o750)
    write_package(old_package, lambda: packages[3])
    assert (old_package / "notes.txt").read_bytes() == b"\x00my notes\r\n"
    assert (old_package / "notes.txt").stat().st_ino == inode  # the same file, not a copy
    assert (old_package / "data" / "table.csv").read_text() == "a,b\n1,2\n"
    assert os.readlink(old_package / "link") == "notes.txt"
    assert (old_package / "env.py").read_text() == packages[3]["env.py"]
    assert (old_package.stat().st_mode & 0o777) == 0o750
    assert leftovers(old_package) == []


def test_a_file_no_longer_generated_is_removed_and_an_unchanged_package_is_not_rewritten(old_package, packages):
    listed = (old_package / MARKER).read_text()
    (old_package / MARKER).write_text(listed + "retired.py\n")
    (old_package / "retired.py").write_text("# generated by an older mechdsl")
    write_package(old_package, lambda: packages[2])
    assert not (old_package / "retired.py").exists() and snapshot(old_package) == as_bytes(packages[2])
    inode = old_package.stat().st_ino
    write_package(old_package, lambda: packages[2])
    assert old_package.stat().st_ino == inode  # nothing to change: the folder is left alone


def test_a_symlinked_target_stays_a_symlink(tmp_path, packages):
    real = tmp_path / "real"
    write_package(real, lambda: packages[2])
    link = tmp_path / "pkg"
    link.symlink_to(real)
    write_package(link, lambda: packages[3])
    assert link.is_symlink() and snapshot(real) == as_bytes(packages[3]) and leftovers(real) == []


def test_a_recompile_of_the_current_folder_keeps_the_current_folder(old_package, packages, monkeypatch):
    monkeypatch.chdir(old_package)
    write_package(Path("."), lambda: packages[3])
    assert Path.cwd() == old_package and Path("env.py").read_text() == packages[3]["env.py"]
    assert leftovers(old_package) == []


# ------------------------------------------------------------------ mechdsl compile
def test_compile_renders_beside_the_target_not_in_the_temporary_folder(tmp_path, monkeypatch, capsys):
    scratch = tmp_path / "system-tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    out = tmp_path / "pkg"
    assert main(["compile", str(SPEC), "-o", str(out)]) == 0
    assert main(["compile", str(SPEC), "-o", str(out), "--set", "K=3"]) == 0
    assert list(scratch.iterdir()) == [] and leftovers(out) == []
    assert json.loads((out / "spec.json").read_text())["sizes"] == {"K": 3}


def test_compile_restores_what_a_killed_compile_left_and_says_so(old_package, packages, capsys):
    killed_write(old_package, packages[3], "rename2")
    sibling(old_package, RENDER).mkdir()  # a scratch render of the killed compile
    assert main(["compile", str(SPEC), "-o", str(old_package), "--set", "K=3"]) == 0
    printed = capsys.readouterr().out
    assert f"restored {old_package} from" in printed and f".pkg{RENDER}" in printed
    compiled = snapshot(old_package)
    assert compiled.pop("spec.mech").startswith(b"# compiled with --set K=3\n")  # the CLI notes the --set
    assert compiled == {name: text for name, text in as_bytes(packages[3]).items() if name != "spec.mech"}
    assert leftovers(old_package) == []
