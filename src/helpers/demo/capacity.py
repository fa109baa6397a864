"""In-house capacity by month: what the SSDA903 does not hold.

Approved foster households decline slowly (recruitment below de-registrations, as in
most councils); beds per household about 1.45; occupied beds are the in-house mainstream
foster placements (U4-U6 with PR1) open on the last day of the month in the demo 903, so
the capacity table and the 903 agree. Children's home beds: the council's own homes
(K2 with PR1).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from .cin import day


def occupied_at(episodes: pd.DataFrame, mask: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Number of episodes selected by ``mask`` open on each day in ``days``
    (open = ``decom <= d`` and (``dec`` blank or ``dec > d``))."""
    decom = episodes["decom"].to_numpy()[mask]
    dec = episodes["dec"].to_numpy()[mask]
    dec = np.where(np.isnan(dec), np.inf, dec)
    starts = np.searchsorted(np.sort(decom), days, side="right")
    ends = np.searchsorted(np.sort(dec), days, side="right")
    return starts - ends


def write_capacity(path: Path, cla: dict, window_start: date, as_at: date, scale: float, rng: np.random.Generator) -> pd.DataFrame:
    """Write ``capacity/inhouse_capacity.csv``: ``month, foster_households, foster_beds,
    foster_beds_occupied, home_beds, home_beds_occupied`` (one row per month from the first
    collection year to the as-at month)."""
    months = pd.period_range(pd.Timestamp(window_start), pd.Timestamp(as_at), freq="M")
    month_end = np.array([day(m.end_time.date()) for m in months])
    month_end = np.minimum(month_end, day(as_at))
    ep = cla["episodes"]
    foster = ep["place"].isin(["U4", "U5", "U6"]).to_numpy() & (ep["place_provider"] == "PR1").to_numpy()
    homes = (ep["place"] == "K2").to_numpy() & (ep["place_provider"] == "PR1").to_numpy()
    f_occ = occupied_at(ep, foster, month_end)
    h_occ = occupied_at(ep, homes, month_end)
    t = np.arange(len(months)) / 12
    households = np.round(scale * (150 - 4.0 * t) + rng.normal(0, 1.5 * np.sqrt(scale), len(months))).astype(int)
    beds = np.round(households * 1.45).astype(int)
    beds = np.maximum(beds, f_occ + np.round(0.05 * beds).astype(int))
    home_beds = np.maximum(np.full(len(months), int(round(12 * scale))), h_occ)
    df = pd.DataFrame({"month": [str(m) for m in months], "foster_households": households, "foster_beds": beds,
                       "foster_beds_occupied": f_occ, "home_beds": home_beds, "home_beds_occupied": h_occ})
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, lineterminator="\n")
    return df
