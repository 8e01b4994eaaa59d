"""The contract kind (`mechanism NAME`): screening contracts with IR/IC/IIC constraints,
reduced symbolically (`derive`), solved exactly (`solve`) and learned (`train`)."""

from mechdsl.kinds.kind import VERBS, Kind
from mechdsl.lang.checker import ContractChecker
from mechdsl.model import Model

CONTRACT = Kind(
    checker=ContractChecker, model=Model, back_end="mechdsl.rl.contract_pipeline",
    verbs=VERBS, summary="contract design: types, menus, IR/IC/IIC; derivation, exact optimum, learned policy",
)
