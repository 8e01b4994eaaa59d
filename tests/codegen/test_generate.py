"""compile_spec: deterministic output equal to the committed `generated/`, refusal to write
over folders mechdsl did not create, no code injection through spec names, no hard-coded
device, and the generated train.py runs."""

from __future__ import annotations

import dataclasses
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import torch

from mechdsl.cli.main import main as cli_main
from mechdsl.cli.output import UsageError
from mechdsl.codegen import MARKER, compile_spec, render
from mechdsl.codegen.printer import UnsafeIdentifier, check_identifier, print_expression
from mechdsl.lang import SpecError, load_source
from codegen_fixtures import BUNDLED, ROOT, derivation_of, model_of


def _generated_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize("name", BUNDLED)
def test_recompiling_gives_the_committed_files(name, tmp_path):
    """Fails on any byte of difference: run `mechdsl compile specs/<name>.mech` to update."""
    compile_spec(model_of(name), tmp_path / name, derivation=derivation_of(name))
    fresh = _generated_files(tmp_path / name)
    committed = _generated_files(ROOT / "generated" / name)
    assert sorted(fresh) == sorted(committed)
    for file, content in fresh.items():
        assert content == committed[file], f"generated/{name}/{file} differs from a fresh compile"
    listed = sorted(line for line in fresh[MARKER].decode().splitlines() if line and not line.startswith("#"))
    assert listed == sorted(set(fresh) - {MARKER})


def test_render_is_deterministic():
    model, derivation = model_of("static_contract"), derivation_of("static_contract")
    assert render(model, derivation) == render(model, derivation)


def test_refuses_foreign_folder_and_force_keeps_user_files(tmp_path):
    model, derivation = model_of("static_contract"), derivation_of("static_contract")
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("user data")
    (out / "env.py").write_text("# user's own env")
    with pytest.raises(UsageError, match="not created by mechdsl"):
        compile_spec(model, out, derivation=derivation)
    assert (out / "env.py").read_text() == "# user's own env"
    assert sorted(p.name for p in out.iterdir()) == ["env.py", "notes.txt"]
    with pytest.raises(UsageError, match="mechdsl did not write that compiling would replace: env.py"):
        compile_spec(model, out, force=True, derivation=derivation)  # --force never replaces a user's file
    assert (out / "env.py").read_text() == "# user's own env"
    assert sorted(p.name for p in out.iterdir()) == ["env.py", "notes.txt"]
    (out / "env.py").rename(tmp_path / "env_of_mine.py")
    written = compile_spec(model, out, force=True, derivation=derivation)
    assert (out / "notes.txt").read_text() == "user data"
    assert (out / MARKER).is_file() and out / "env.py" in written
    # now mechdsl owns the folder: recompiling needs no --force and still keeps user files
    compile_spec(model, out, derivation=derivation)
    assert (out / "notes.txt").read_text() == "user data"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # staging folder removed


def test_cli_compile_refuses_then_forces(tmp_path, capsys):
    out = tmp_path / "user"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    spec = str(ROOT / "specs" / "static_contract.mech")
    assert cli_main(["compile", spec, "-o", str(out)]) == 2
    assert "not created by mechdsl" in capsys.readouterr().err
    assert cli_main(["compile", spec, "-o", str(out), "--force"]) == 0
    printed = capsys.readouterr().out
    assert "env.py" in printed and (out / "keep.txt").exists()


# ------------------------------------------------------------------ injection
def _renamed(source: str, renames: dict[str, str]) -> str:
    import re

    for old, new in renames.items():
        source = re.sub(rf"\b{re.escape(old)}\b", new, source)
    return source


def test_checker_rejects_names_that_would_clash_with_positions():
    source = (ROOT / "specs" / "static_contract.mech").read_text()
    with pytest.raises(SpecError) as error:
        load_source(_renamed(source, {"vartheta": "__import__"}), "bad.mech")
    lines = [d.span.line for d in error.value.diagnostics if "__import__" in d.message]
    assert lines and all(line > 0 for line in lines)
    with pytest.raises(SpecError):
        load_source(_renamed(source, {"c0": "torch"}), "bad.mech")


def test_python_module_names_are_emitted_safely(tmp_path):
    """`os`, `formulas`, `a`, `score` (names of the generated module's own imports and locals) as spec
    names only ever appear as `v_...` locals (or, for constants, as CONSTANTS keys) and the
    renamed mechanism computes exactly what the original does."""
    source = (ROOT / "specs" / "static_contract.mech").read_text()
    renamed = _renamed(source, {"vartheta": "os", "c0": "formulas", "rho": "a", "c": "score",
                                "static_contract": "renamed"})
    model = load_source(renamed, "renamed.mech")
    compile_spec(model, tmp_path / "renamed", source=renamed)
    env_code = (tmp_path / "renamed" / "env.py").read_text()
    assert "import os" not in env_code and "v_os" in env_code and "v_score" in env_code
    assert "'formulas': 0.01" in env_code  # a constant: recorded in CONSTANTS, folded into the formulas
    spec = importlib.util.spec_from_file_location("renamed_pkg", tmp_path / "renamed" / "__init__.py",
                                                  submodule_search_locations=[str(tmp_path / "renamed")])
    module = importlib.util.module_from_spec(spec)
    sys.modules["renamed_pkg"] = module
    try:
        spec.loader.exec_module(module)
        import generated.static_contract as original

        state = original.sample_states(64, torch.Generator().manual_seed(0), dtype=torch.float64)
        action = torch.linspace(-1, 1, 64 * 2, dtype=torch.float64).reshape(64, 2)
        a, b = original.evaluate(state, action), module.evaluate(state, action)
        assert torch.allclose(a.reward, b.reward) and torch.allclose(a.violation, b.violation)
    finally:
        sys.modules.pop("renamed_pkg", None)
        sys.modules.pop("renamed_pkg.env", None)
        sys.modules.pop("renamed_pkg.formulas", None)


def test_unsafe_identifiers_never_reach_source():
    for bad in ("a); import os; (", "class", "x y", "1x", ""):
        with pytest.raises(UnsafeIdentifier):
            check_identifier(bad)
    evil = sp.Symbol("__import__('os').system('true')", real=True)
    with pytest.raises(UnsafeIdentifier):
        print_expression(evil + 1, {})
    with pytest.raises(UnsafeIdentifier):
        print_expression(evil + 1, {evil: "__import__('os')"})
    model = dataclasses.replace(model_of("static_contract"), name="x; import os")
    with pytest.raises(UsageError, match="safe Python identifier"):
        render(model, derivation_of("static_contract"))


# ------------------------------------------------------------------ printer
def test_printer_fixes_max_min_heaviside_numerically():
    x, y = sp.symbols("x y", real=True)
    names = {x: "x", y: "y"}
    values = {"x": torch.tensor([-2.0, 0.0, 3.0], dtype=torch.float64),
              "y": torch.tensor([1.0, -1.0, 5.0], dtype=torch.float64), "torch": torch}
    cases = {sp.Max(0, x): [0.0, 0.0, 3.0], sp.Min(x, y, 2): [-2.0, -1.0, 2.0],
             sp.Max(x, y): [1.0, 0.0, 5.0], sp.Heaviside(x): [0.0, 0.5, 1.0],
             sp.Heaviside(x, 1): [0.0, 1.0, 1.0], x ** 2 / 3 + sp.Rational(1, 2): [4 / 3 + 0.5, 0.5, 3.5],
             2 ** (-x): [4.0, 1.0, 0.125], sp.sqrt(y ** 2): [1.0, 1.0, 5.0],
             # numeric subexpressions become floats (torch functions take tensors only)
             sp.sqrt(2) * x: [-2 * 2 ** 0.5, 0.0, 3 * 2 ** 0.5],
             sp.log(5) + y: [1 + np.log(5), -1 + np.log(5), 5 + np.log(5)],
             # c ** x as exp(log(c) x)
             10 ** (x / 10 - 3): [10 ** -3.2, 10 ** -3.0, 10 ** -2.7], sp.Rational(1, 2) ** y: [0.5, 2.0, 0.5 ** 5]}
    for expr, expected in cases.items():
        code = print_expression(expr, names)
        got = eval(code, {}, values)  # noqa: S307 - our own printed code
        assert torch.allclose(got, torch.tensor(expected, dtype=torch.float64), rtol=1e-12), (expr, code)
        assert "torch.sqrt(2.0)" not in code and "torch.log(5.0)" not in code, code
        assert "**" not in code, code


# ------------------------------------------------------------------ device
def test_generated_code_has_no_hard_coded_device():
    for name in BUNDLED:
        for file in ("env.py", "formulas.py", "train.py", "__init__.py"):
            assert "cuda" not in (ROOT / "generated" / name / file).read_text(), (name, file)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_env_on_cuda():
    import generated.two_period as package

    env = package.Env(device="cuda")
    state = env.reset(256, torch.Generator(device="cuda").manual_seed(0))
    result = env.step(torch.zeros(256, env.action_dim, device="cuda"))
    assert state.device.type == result.reward.device.type == result.violation.device.type == "cuda"


# ------------------------------------------------------------------ train.py
def test_generated_train_script_runs():
    completed = subprocess.run(
        [sys.executable, str(ROOT / "generated" / "two_period" / "train.py"), "--steps", "20", "--device", "cpu",
         "--eval-states", "2"],
        capture_output=True, text=True, timeout=240, cwd=str(ROOT / "generated"))
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "final:" in completed.stdout


def test_folding_keeps_max_and_min_unevaluated_and_equal_to_xreplace():
    """`_folded` substitutes the constants like `xreplace` but rebuilds Max/Min unevaluated (the
    evaluated rebuild compared every pair of arguments and was most of a K = 5 compile): x, which
    2.5 x dominates once c = 2.5 is folded in (x > 0), stays, and the function is the same at 200
    random points."""
    from mechdsl.codegen.generate import _folded

    x = sp.Symbol("x", positive=True)
    y, c = sp.symbols("y c", real=True)
    expr = sp.Max(c * x, x, y) + sp.Min(x, c * y) * sp.exp(c)
    fold = {c: sp.Float(2.5)}
    folded, reference = _folded(expr, fold), expr.xreplace(fold)
    assert c not in folded.free_symbols

    def max_arguments(e):
        return [len(node.args) for node in sp.preorder_traversal(e) if isinstance(node, sp.Max)]

    assert max_arguments(folded) == [3] and max_arguments(reference) == [2]  # evaluated: Max(2.5 x, y)
    f, g = (sp.lambdify((x, y), e, "numpy") for e in (folded, reference))
    rng = np.random.default_rng(0)
    points = rng.uniform(0.01, 5.0, size=200), rng.uniform(-5.0, 5.0, size=200)
    np.testing.assert_allclose(f(*points), g(*points), rtol=1e-14, atol=1e-12)
