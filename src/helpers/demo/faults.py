"""Data-quality faults injected into the demo files, at a small realistic rate.

Rates are shares of the eligible records (records that appear in exactly one collection
year's file, so each injected fault shows up once and ``faults.json`` reconciles).
``normal`` is a small realistic rate; ``high`` is for reader tests; ``none`` turns faults off.
"""

from __future__ import annotations

import numpy as np

FAULT_RATES: dict[str, dict[str, float]] = {
    "none": {"duplicate_referral": 0, "missing_closure_date": 0, "overlapping_episode": 0,
             "unknown_place": 0, "unknown_provider": 0, "dec_before_decom": 0},
    "normal": {"duplicate_referral": 0.002, "missing_closure_date": 0.003, "overlapping_episode": 0.004,
               "unknown_place": 0.002, "unknown_provider": 0.002, "dec_before_decom": 0.002},
    "high": {"duplicate_referral": 0.02, "missing_closure_date": 0.03, "overlapping_episode": 0.04,
             "unknown_place": 0.02, "unknown_provider": 0.02, "dec_before_decom": 0.02},
}


def pick_faults(rng: np.random.Generator, eligible: np.ndarray, rate: float) -> np.ndarray:
    """Boolean mask choosing ``round(rate * n_eligible)`` records (at least one when
    ``rate > 0`` and any record is eligible) among the ``eligible`` ones."""
    eligible = np.asarray(eligible, bool)
    out = np.zeros(len(eligible), bool)
    idx = np.flatnonzero(eligible)
    if rate <= 0 or len(idx) == 0:
        return out
    k = max(1, int(round(rate * len(idx))))
    out[rng.choice(idx, size=min(k, len(idx)), replace=False)] = True
    return out
