"""`mechdsl check` and `mechdsl --version`, run in-process (and once as the installed script)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mechdsl import __version__
from mechdsl.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted(ROOT.glob("specs/*.mech"))


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_check_prints_the_summary(spec, capsys):
    assert main(["check", str(spec)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    if out.startswith("game "):
        assert out.startswith(f"game {spec.stem}  ({spec})\n")
        for heading in ("sizes", "parameters", "leader", "follower", "strategy", "budget", "auction"):
            assert re.search(rf"^  {heading}\b", out, re.M), heading
        return
    if out.startswith("scenario "):
        assert out.startswith(f"scenario {spec.stem}  ({spec})\n")
        for heading in ("sizes", "parameters", "horizon", "state", "action", "constraint", "metric", "observation"):
            assert re.search(rf"^  {heading}\b", out, re.M), heading
        return
    assert out.startswith(f"mechanism {spec.stem}  ({spec})\n")
    for heading in ("sizes", "principal", "agents", "parameters", "types", "probability", "period 1",
                    "utility", "objective", "constraint", "train"):
        assert re.search(rf"^  {heading}\b", out, re.M), heading


def test_check_two_period_summary_facts(capsys):
    assert main(["check", str(ROOT / "specs" / "two_period.mech")]) == 0
    out = capsys.readouterr().out
    assert "  sizes       K = 2\n" in out
    assert "  types       theta1[2] ~ uniform(15, 20), uniform(20, 25) (sorted)\n" in out
    assert "  allocation  T2[2, 2] in [0, 150]\n" in out
    assert "  period 2    types theta2, prob p2, menu (T2, R2), discount beta\n" in out


def test_check_set_overrides_a_size(capsys):
    assert main(["check", str(ROOT / "specs" / "two_period.mech"), "--set", "K=3"]) == 0
    out = capsys.readouterr().out
    assert "  sizes       K = 3\n" in out and "  allocation  T2[3, 3] in [0, 150]\n" in out


def test_check_bad_set_is_a_usage_error(capsys):
    assert main(["check", str(ROOT / "specs" / "two_period.mech"), "--set", "K"]) == 2
    assert "mechdsl: error: --set expects NAME=VALUE" in capsys.readouterr().err


def test_check_bad_spec_prints_position_source_line_and_caret(tmp_path, capsys):
    spec = tmp_path / "bad.mech"
    source = (ROOT / "specs" / "static_contract.mech").read_text(encoding="utf-8")
    source = source.replace("rho * psi * r - c * s - c0", "rho * psi * r - c * s - c00")
    spec.write_text(source, encoding="utf-8")
    line = next(i for i, text in enumerate(source.splitlines(), 1) if "c00" in text)
    col = source.splitlines()[line - 1].index("c00") + 1
    assert main(["check", str(spec)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == f"{spec}:{line}:{col}: error: 'c00' is not defined"
    assert lines[1] == f"{line:>5} | {source.splitlines()[line - 1]}"
    assert lines[2] == " " * (len(f"{line:>5} | ") + col - 1) + "^^^"
    assert lines[3] == "hint: did you mean 'c0'?"
    assert "\x1b[" not in err  # no colour when stderr is not a terminal


def test_check_syntax_error(tmp_path, capsys):
    spec = tmp_path / "syntax.mech"
    spec.write_text("mechanism m\nparam x = 2 *\nparam y = 1\n", encoding="utf-8")
    assert main(["check", str(spec)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{spec}:3:1: error: unexpected 'param'")
    assert "hint: the previous statement looks unfinished" in err


def test_check_missing_file(tmp_path, capsys):
    missing = tmp_path / "nowhere.mech"
    assert main(["check", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0] == f"mechdsl: error: no such spec file: {missing}"
    assert "Traceback" not in err


def test_check_directory_is_not_a_spec(tmp_path, capsys):
    assert main(["check", str(tmp_path)]) == 2
    assert "is a folder, not a spec file" in capsys.readouterr().err


def test_check_non_utf8_file(tmp_path, capsys):
    spec = tmp_path / "latin1.mech"
    spec.write_bytes("# caf\xe9\n".encode("latin-1"))
    assert main(["check", str(spec)]) == 2
    assert "is not UTF-8 text" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"mechdsl {__version__}"


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "usage: mechdsl" in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("mechdsl") is None, reason="the mechdsl script is not installed")
def test_installed_script():
    result = subprocess.run(["mechdsl", "check", str(ROOT / "specs" / "static_contract.mech")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("mechanism static_contract")
