"""The train-block schema of the checker mirrors the RL registry exactly."""

import typing

from mechdsl.lang.train_schema import ALGORITHM_HYPERPARAMETERS, ALGORITHMS
from mechdsl.rl import ALGORITHMS as RL_ALGORITHMS
from mechdsl.rl import hyperparameter_names


def test_algorithms_agree():
    assert set(ALGORITHMS) == set(RL_ALGORITHMS)


def test_hyperparameters_agree():
    for algorithm in RL_ALGORITHMS:
        expected = {name: typing.get_origin(kind) or kind for name, kind in hyperparameter_names(algorithm).items()}
        assert ALGORITHM_HYPERPARAMETERS[algorithm] == expected, algorithm
