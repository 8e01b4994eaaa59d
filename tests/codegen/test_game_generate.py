"""The game env package: deterministic output equal to the committed
`generated/iot_offloading/`, marker-guarded writes, user errors for games without an
auctioneer to train, and `mechdsl compile` of a game spec."""

from __future__ import annotations

from pathlib import Path

import pytest

from mechdsl.cli.main import main as cli_main
from mechdsl.cli.output import UsageError
from mechdsl.codegen import MARKER
from mechdsl.games.codegen import compile_game, render_game
from mechdsl.lang.diagnostics import SpecError
from mechdsl.lang.game_checker import load_game_source

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "iot_offloading.mech"


def _model(source: str | None = None):
    return load_game_source(source if source is not None else SPEC.read_text(), str(SPEC))


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_recompiling_gives_the_committed_files(tmp_path):
    """Fails on any byte of difference: run `mechdsl compile specs/iot_offloading.mech` to update."""
    compile_game(_model(), tmp_path / "iot_offloading", source=SPEC.read_text())
    fresh, committed = _files(tmp_path / "iot_offloading"), _files(ROOT / "generated" / "iot_offloading")
    assert sorted(fresh) == sorted(committed)
    for name, content in fresh.items():
        assert content == committed[name], f"generated/iot_offloading/{name} differs from a fresh compile"
    listed = sorted(line for line in fresh[MARKER].decode().splitlines() if line and not line.startswith("#"))
    assert listed == sorted(set(fresh) - {MARKER})


def test_render_is_deterministic_and_device_free():
    files = render_game(_model(), SPEC.read_text())
    assert files == render_game(_model(), SPEC.read_text())
    assert "cuda" not in files["env.py"]


def test_refuses_foreign_folder_and_force_keeps_user_files(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "env.py").write_text("# user's own env")
    with pytest.raises(UsageError, match="not created by mechdsl"):
        compile_game(_model(), out, source=SPEC.read_text())
    assert (out / "env.py").read_text() == "# user's own env"
    (out / "notes.txt").write_text("user data")
    with pytest.raises(UsageError, match="mechdsl did not write that compiling would replace: env.py"):
        compile_game(_model(), out, force=True, source=SPEC.read_text())  # --force never replaces a user's file
    assert (out / "env.py").read_text() == "# user's own env"
    (out / "env.py").unlink()
    compile_game(_model(), out, force=True, source=SPEC.read_text())
    assert (out / "notes.txt").read_text() == "user data" and (out / MARKER).is_file()
    compile_game(_model(), out, source=SPEC.read_text())  # ours now: no --force needed
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def _without_auction(source: str) -> str:
    start = source.index("auction aerial {")
    return source[:start] + source[source.index("}", start) + 1:]


@pytest.mark.parametrize("edit,message", [
    (lambda s: s.replace("param round_cost = 0.02", "param tick_cost = 0.02"), "cost of one clock tick"),
    (lambda s: s.replace("mechanism double_dutch", "mechanism mcafee").replace("  step 0.05\n", ""),
     "sealed-bid auction without clocks"),
    (_without_auction, "no auction"),
])
def test_games_the_env_cannot_express_are_user_errors(edit, message):
    """Refused as user errors positioned at the statement (SpecError: file:line:col, caret, hint)."""
    source = edit(SPEC.read_text())
    assert source != SPEC.read_text()
    with pytest.raises(SpecError, match=message):
        render_game(_model(source), source)


def test_cli_compile_game(tmp_path, capsys):
    out = tmp_path / "pkg"
    assert cli_main(["compile", str(SPEC), "-o", str(out)]) == 0
    assert "env.py" in capsys.readouterr().out
    assert _files(out) == _files(ROOT / "generated" / "iot_offloading")
