"""`mechdsl.rl.progress`: off a terminal the rich bar becomes plain, complete lines."""

from __future__ import annotations

from mechdsl.rl.progress import _Plain, make_progress, on_terminal


def test_rich_falls_back_to_plain_lines_off_a_terminal(capsys):
    assert not on_terminal()  # pytest captures stdout: not a terminal
    progress = make_progress("rich", total=800, completed=0, description="amortized")
    assert isinstance(progress, _Plain)
    with progress:
        progress.advance(400)
        progress.report({"step": 800, "test_reward": 12.3456789, "optimality_ratio": 0.98765})
    out, err = capsys.readouterr()
    assert out == "" and err == "[amortized] step 800  test reward 12.3457  optimality 0.988\n"
    assert "━" not in err and "…" not in err
