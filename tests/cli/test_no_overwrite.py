"""Nothing a user made is lost: run folders (`train`/`run`) and `compile --force`.

Run folders: an existing folder is refused (exit 2, every byte kept) unless --resume or
--overwrite (which moves it to DIR.old-N first); the default folder gets a fresh suffix.
Compile: every replaced file is listed; only files in mechdsl's marker are replaced, a
user's file with a generated name stops the compile unless --replace-user-files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mechdsl.cli.main import main
from mechdsl.codegen.generate import MARKER
from mechdsl.rl.runs import RUN_FILE, RunFolderError, aside_path, plan_run_folder

ROOT = Path(__file__).resolve().parents[2]
SPEC = str(ROOT / "specs" / "static_contract.mech")
QUICK = ["--algo", "random", "--steps", "3", "--eval-states", "10", "--quiet"]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def fake_run(folder: Path, algo: str = "amortized", steps: int = 300) -> Path:
    folder.mkdir(parents=True)
    (folder / RUN_FILE).write_text(json.dumps({"algo": algo, "steps": steps, "seed": 0}))
    (folder / "checkpoint.pt").write_bytes(b"26 minutes of training")
    return folder


# ------------------------------------------------------------------ planning (no disk writes)
def test_default_folder_gets_a_fresh_suffix(tmp_path):
    default = tmp_path / "runs" / "m-random-seed0"
    assert plan_run_folder(None, default).path == default  # nothing there yet
    fake_run(default)
    assert plan_run_folder(None, default).path == tmp_path / "runs" / "m-random-seed0-2"
    fake_run(tmp_path / "runs" / "m-random-seed0-2")
    assert plan_run_folder(None, default).path == tmp_path / "runs" / "m-random-seed0-3"
    resumed = plan_run_folder(None, default, resume=True)  # the newest default folder
    assert resumed.path == tmp_path / "runs" / "m-random-seed0-2" and resumed.resume
    replaced = plan_run_folder(None, default, overwrite=True)
    assert replaced.path == default and replaced.move_aside_to == tmp_path / "runs" / "m-random-seed0.old-1"


def test_explicit_folder_rules(tmp_path):
    run = fake_run(tmp_path / "r")
    with pytest.raises(RunFolderError, match=r"a run of amortized, 300 steps.*already exists") as error:
        plan_run_folder(run, tmp_path / "unused")
    assert "--resume" in error.value.hint and "--overwrite" in error.value.hint and "r.old-1" in error.value.hint
    assert plan_run_folder(run, tmp_path / "unused", resume=True).resume
    (tmp_path / "r.old-1").mkdir()
    assert plan_run_folder(run, tmp_path / "unused", overwrite=True).move_aside_to == tmp_path / "r.old-2"
    with pytest.raises(RunFolderError, match="exclude each other"):
        plan_run_folder(run, tmp_path / "unused", resume=True, overwrite=True)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert plan_run_folder(empty, tmp_path / "unused").path == empty  # an empty folder is free
    with pytest.raises(RunFolderError, match="nothing to resume"):
        plan_run_folder(empty, tmp_path / "unused", resume=True)
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(RunFolderError, match="not a mechdsl run"):
        plan_run_folder(foreign, tmp_path / "unused")
    with pytest.raises(RunFolderError, match="cannot resume"):
        plan_run_folder(foreign, tmp_path / "unused", resume=True)
    assert aside_path(foreign) == tmp_path / "photos.old-1"


# ------------------------------------------------------------------ the CLI
@pytest.mark.parametrize("verb", ["train", "run"])
def test_existing_run_folder_is_refused_and_kept(tmp_path, capsys, verb):
    run = fake_run(tmp_path / "old")
    before = snapshot(run)
    assert main([verb, SPEC, "--out", str(run), *QUICK]) == 2
    err = capsys.readouterr().err
    assert "already exists; refusing to replace it" in err and "--overwrite" in err and "Traceback" not in err
    assert snapshot(run) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]


def test_overwrite_moves_the_old_run_aside(tmp_path, capsys):
    run = fake_run(tmp_path / "old")
    before = snapshot(run)
    assert main(["train", SPEC, "--out", str(run), "--overwrite", *QUICK]) == 0
    assert f"moved the old run folder {run} to {tmp_path / 'old.old-1'}" in capsys.readouterr().out
    assert snapshot(tmp_path / "old.old-1") == before  # byte-identical, just moved
    assert json.loads((run / RUN_FILE).read_text())["algo"] == "random"
    with pytest.raises(SystemExit) as exited:  # argparse: the two exclude each other
        main(["train", SPEC, "--out", str(run), "--overwrite", "--resume", *QUICK])
    assert exited.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def test_resume_checks_the_saved_run(tmp_path, capsys):
    run = fake_run(tmp_path / "old", algo="amortized")
    assert main(["train", SPEC, "--out", str(run), "--resume", *QUICK]) == 2  # QUICK trains random
    assert "cannot resume" in capsys.readouterr().err
    assert main(["train", SPEC, "--out", str(tmp_path / "none"), "--resume", *QUICK]) == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_default_run_folder_is_never_replaced(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", SPEC, *QUICK]) == 0
    first = snapshot(tmp_path / "runs" / "static_contract-random-seed0")
    assert main(["train", SPEC, *QUICK]) == 0
    assert "runs/static_contract-random-seed0-2/" in capsys.readouterr().out
    assert snapshot(tmp_path / "runs" / "static_contract-random-seed0") == first


def test_run_reports_the_time_of_each_stage(tmp_path, capsys):
    assert main(["run", SPEC, "--out", str(tmp_path / "r"), *QUICK]) == 0
    out = capsys.readouterr().out
    timed = out.split("time per stage:")[1].split()
    for stage in ("compile", "train", "evaluate", "report", "total"):
        seconds = float(timed[timed.index(stage) + 1])
        assert seconds >= 0.0
    total = float(timed[timed.index("total") + 1])
    parts = sum(float(timed[timed.index(s) + 1]) for s in ("compile", "train", "evaluate", "report"))
    assert abs(total - parts) <= 0.2  # each printed to 0.1 s
    report = (tmp_path / "r" / "report.md").read_text()
    assert report.count("## Time per stage") == 1
    assert "| compile |" in report and "| train |" in report and "| total |" in report


# ------------------------------------------------------------------ compile --force
def test_compile_force_keeps_user_files_byte_identical(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "env.py").write_bytes(b"# my own env\r\n")
    (out / "notes.txt").write_bytes(b"\x00binary notes")
    before = snapshot(out)
    assert main(["compile", SPEC, "-o", str(out)]) == 2
    assert "not created by mechdsl" in capsys.readouterr().err
    assert main(["compile", SPEC, "-o", str(out), "--force"]) == 2
    err = capsys.readouterr().err
    assert "would replace: env.py; nothing was written" in err and "--replace-user-files" in err
    assert snapshot(out) == before
    (out / "env.py").rename(tmp_path / "env.py")
    assert main(["compile", SPEC, "-o", str(out), "--force"]) == 0
    assert "replacing" not in capsys.readouterr().out  # nothing of the user's was replaced
    assert (out / "notes.txt").read_bytes() == b"\x00binary notes" and (out / MARKER).is_file()


def test_compile_lists_every_file_it_replaces(tmp_path, capsys):
    out = tmp_path / "pkg"
    assert main(["compile", SPEC, "-o", str(out)]) == 0
    capsys.readouterr()
    (out / "README.md").write_text("edited by hand")
    (out / "spec.json").write_text("{}")
    assert main(["compile", SPEC, "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"replacing: {out / 'README.md'}, {out / 'spec.json'}" in printed
    assert "unchanged: 6 file(s)" in printed


def test_replace_user_files_is_explicit_and_listed(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "env.py").write_text("# my own env")
    (out / "keep.txt").write_text("kept")
    assert main(["compile", SPEC, "-o", str(out), "--force", "--replace-user-files"]) == 0
    assert f"replacing files of yours (--replace-user-files): {out / 'env.py'}" in capsys.readouterr().out
    assert "GENERATED by `mechdsl compile`" in (out / "env.py").read_text() and (out / "keep.txt").read_text() == "kept"


def test_compile_accepts_set(tmp_path, capsys):
    out = tmp_path / "k3"
    assert main(["compile", SPEC, "-o", str(out), "--set", "K=3"]) == 0
    assert json.loads((out / "spec.json").read_text())["sizes"] == {"K": 3}
    assert (out / "spec.mech").read_text().startswith("# compiled with --set K=3\n")
