from pathlib import Path

import pytest

from mechdsl.games.equilibrium import derive_followers
from mechdsl.lang.game_checker import load_game_source

SPEC = Path(__file__).resolve().parents[2] / "specs" / "iot_offloading.mech"


def load(overrides=None):
    return load_game_source(SPEC.read_text(), str(SPEC), overrides)


@pytest.fixture(scope="session")
def iot_model():
    return load()


@pytest.fixture(scope="session")
def iot_forms(iot_model):
    return derive_followers(iot_model)


@pytest.fixture(scope="session")
def small_model():
    return load({"I": 1, "J": 1, "N": 2})
