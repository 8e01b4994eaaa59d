"""Resuming refuses a checkpoint of another run and says which hyperparameters differ
(`mechdsl.rl.loop._check_compatible`), including one added since the checkpoint was written."""

from __future__ import annotations

import dataclasses

import pytest

from mechdsl.lang import load_source
from mechdsl.lang.diagnostics import SpecError
from mechdsl.rl import resolve_hparams
from mechdsl.rl.loop import CHECKPOINT_VERSION, _check_compatible


def checkpoint_of(hp, **changes) -> dict:
    saved = {**dataclasses.asdict(hp), **changes}
    return {"version": CHECKPOINT_VERSION, "algo": "edmsac", "seed": 0, "hparams": saved}


def test_the_same_hyperparameters_resume():
    hp = resolve_hparams("edmsac", "default", None)
    _check_compatible(checkpoint_of(hp), "edmsac", 0, hp)


def test_a_changed_and_an_added_hyperparameter_are_named():
    hp = resolve_hparams("edmsac", "default", None)
    ckpt = checkpoint_of(hp, actor_lr=0.5)
    del ckpt["hparams"]["train_start"]  # written before train_start existed
    with pytest.raises(ValueError) as refused:
        _check_compatible(ckpt, "edmsac", 0, hp)
    message = str(refused.value)
    assert "actor_lr 0.5 in the checkpoint" in message
    assert "train_start absent (a hyperparameter added since) in the checkpoint, auto now" in message


def test_a_misspelt_train_start_is_a_check_error():
    from pathlib import Path
    spec = (Path(__file__).resolve().parents[2] / "specs" / "static_contract.mech").read_text()
    assert "denoise_steps = 6" in spec
    with pytest.raises(SpecError) as refused:
        load_source(spec.replace("denoise_steps = 6", "denoise_steps = 6\n  train_start = smaple", 1), "s.mech")
    assert "train_start" in str(refused.value) and "sample" in str(refused.value)
