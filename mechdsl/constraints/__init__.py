"""Constraint families of a contract, defined once (between `mechdsl.model` and `mechdsl.reduce`).

`structure.py`  the screening structure: periods, histories, items, utilities, continuations
`families.py`   IR (per period / lifetime), IC, IIC, bounds, monotone, declared: SymPy g >= 0
`labels.py`     the one label scheme every consumer prints
"""

from mechdsl.constraints.families import (
    BOUNDS, DECLARED, INCENTIVE, ITEM_FAMILIES, LIFETIME_IR, OPTIMAL, PER_PERIOD_IR, TRUTHFUL, Instance, ItemFamily,
    declared_constraints, item_constraints, original_constraints,
)
from mechdsl.constraints.labels import EVERY, Place, item_subject
from mechdsl.constraints.structure import Screening

__all__ = ["BOUNDS", "DECLARED", "EVERY", "INCENTIVE", "ITEM_FAMILIES", "LIFETIME_IR", "OPTIMAL", "PER_PERIOD_IR",
           "TRUTHFUL", "Instance", "ItemFamily", "Place", "Screening", "declared_constraints", "item_constraints",
           "item_subject", "original_constraints"]
