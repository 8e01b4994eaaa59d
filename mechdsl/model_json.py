"""The JSON shape of a contract state: what `mechdsl solve --json` and `mechdsl eval --json`
print, and what `mechdsl.api.state_from_json` reads back."""

from __future__ import annotations

import numpy as np

from mechdsl.model import Model


def state_json(model: Model, state: dict[str, float]) -> dict:
    """Every parameter, derived quantity, type vector and probability table by spec name;
    vectors and tables nested in their declared shape."""
    out: dict[str, object] = {}
    for name in [*model.constants, *model.randoms, *model.derived]:
        out[name] = state[name]
    for entity in [*model.types.values(), *model.probs.values()]:
        flat = [state[s.name] for s in entity.symbols()]
        out[entity.name] = np.asarray(flat).reshape(entity.shape).tolist()
    return out
