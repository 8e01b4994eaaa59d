"""The train-block schema of the checker is generated from the RL registry and current."""

import typing

from mechdsl.lang.train_schema import ALGORITHM_HYPERPARAMETERS, ALGORITHMS
from mechdsl.rl import ALGORITHMS as RL_ALGORITHMS
from mechdsl.rl import hyperparameter_names
from mechdsl.rl.algorithm_table import TABLE, render_table


def test_the_generated_table_is_current():
    assert TABLE.read_text(encoding="utf-8") == render_table(), \
        "stale: run `python -m mechdsl.rl.algorithm_table` and commit mechdsl/lang/algorithm_table.py"


def test_algorithms_agree():
    assert ALGORITHMS == tuple(RL_ALGORITHMS)


def test_hyperparameters_agree():
    for algorithm in RL_ALGORITHMS:
        expected = {name: typing.get_origin(kind) or kind for name, kind in hyperparameter_names(algorithm).items()}
        assert ALGORITHM_HYPERPARAMETERS[algorithm] == expected, algorithm


def test_checking_a_spec_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys; from mechdsl.lang import load_file; load_file('specs/two_period.mech'); "
            "print('torch' in sys.modules)")
    root = TABLE.parents[2]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    assert result.stdout.strip() == "False"


def test_payments_takes_each_mode_bare_even_the_keyword_action():
    """`action` is a keyword of the scenario language; as a train-block value it is the payment mode."""
    from pathlib import Path

    from mechdsl.lang import load_source

    spec = Path(__file__).resolve().parents[2] / "specs" / "two_period.mech"
    for mode in ("action", "optimal", "auto", '"action"'):
        text = spec.read_text().replace("  algorithm = amortized\n", f"  algorithm = amortized\n  payments = {mode}\n")
        assert load_source(text).train["payments"] == mode.strip('"')


def test_the_activation_choices_are_the_networks_activations():
    from mechdsl.lang.train_schema import ACTIVATION_NAMES
    from mechdsl.rl.networks import ACTIVATIONS

    assert ACTIVATION_NAMES == tuple(ACTIVATIONS)
