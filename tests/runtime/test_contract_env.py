"""`mechdsl.runtime.contract_env.checked_payment_mode`: which payment mode an env runs."""

import pytest

from mechdsl.runtime.contract_env import checked_payment_mode


def test_the_modes_an_env_runs():
    assert checked_payment_mode("action", 6, True) == "action"
    assert checked_payment_mode("optimal", 6, True) == "optimal"
    assert checked_payment_mode("optimal", 0, False) == "action"  # least payments proven optimal: same map
    assert checked_payment_mode("auto", 6, True) == "action"  # no learner chose: an env built directly
    assert checked_payment_mode("auto", 6, False) == "action"


def test_optimal_payments_without_an_lp_are_refused():
    with pytest.raises(ValueError, match="needs a payment LP"):
        checked_payment_mode("optimal", 6, False)
    with pytest.raises(ValueError, match="unknown payment mode"):
        checked_payment_mode("lp", 6, True)
