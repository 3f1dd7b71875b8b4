"""The "High 4 of 5" baseline worked out by hand, the meter reader, and delivery against
measured kW in the DR event report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from inputs.errors import InputError
from scheduler.dr.baseline import high_4_of_5, read_meter_csv

# a weekday event 13:00–16:00 JST on Thu 2026-05-21 (no holiday near it)
START = pd.Timestamp("2026-05-21T13:00:00+09:00").tz_convert("UTC")
END = pd.Timestamp("2026-05-21T16:00:00+09:00").tz_convert("UTC")


def meter(levels: dict[str, float], default: float = 500.0) -> pd.Series:
    """Half-hourly kW from 2026-04-25 to the event day: `default` everywhere, and in the
    13:00–16:00 JST window of the named days (YYYY-MM-DD, JST) the given level."""
    idx = pd.date_range("2026-04-25T00:00:00+09:00", "2026-05-21T23:30:00+09:00",
                        freq="30min").tz_convert("UTC")
    values = np.full(len(idx), default)
    jst = idx.tz_convert("Asia/Tokyo")
    in_window = (jst.hour >= 13) & (jst.hour < 16)
    for day, level in levels.items():
        values[(jst.strftime("%Y-%m-%d") == day) & in_window] = level
    return pd.Series(values, index=idx)


def test_the_top_4_of_the_last_5_weekdays() -> None:
    """Previous weekdays: Wed 20 → 100, Tue 19 → 120, Mon 18 → 90, Fri 15 → 110,
    Thu 14 → 130 (the weekend 16–17 at 500 is another kind of day): the top 4 are 130,
    120, 110, 100 → 115 kW in every slot of the window."""
    m = meter({"2026-05-20": 100, "2026-05-19": 120, "2026-05-18": 90, "2026-05-15": 110,
               "2026-05-14": 130, "2026-05-13": 40})
    base = high_4_of_5(m, START, END)
    assert base is not None and len(base) == 6
    assert base.to_numpy() == pytest.approx(np.full(6, 115.0))


def test_event_days_and_incomplete_days_are_skipped() -> None:
    """With Tue 19 an event day and Mon 18 missing a reading, the five are Wed 20, Fri 15,
    Thu 14, Wed 13, Tue 12 → 100, 110, 130, 40, 70: top 4 mean (130+110+100+70)/4."""
    m = meter({"2026-05-20": 100, "2026-05-19": 900, "2026-05-18": 90, "2026-05-15": 110,
               "2026-05-14": 130, "2026-05-13": 40, "2026-05-12": 70})
    m = m.drop(m.index[m.index == pd.Timestamp("2026-05-18T14:00:00+09:00")])
    base = high_4_of_5(m, START, END, event_days=[pd.Timestamp("2026-05-19T14:00:00+09:00")])
    assert base.to_numpy() == pytest.approx(np.full(6, (130 + 110 + 100 + 70) / 4))


def test_too_little_history_gives_no_baseline() -> None:
    m = meter({})
    assert high_4_of_5(m[m.index >= pd.Timestamp("2026-05-17T00:00:00+09:00")], START,
                       END) is None


def test_meter_csv(tmp_path: Path) -> None:
    path = tmp_path / "meter.csv"
    path.write_text("site,time,kw\nmatsue,2026-05-21T13:00:00+09:00,80\n"
                    "matsue,2026-05-21T13:30:00+09:00,75.5\n", encoding="utf-8")
    got = read_meter_csv(path)
    assert list(got) == ["matsue"] and got["matsue"].iloc[1] == 75.5
    assert str(got["matsue"].index.tz) == "UTC"
    path.write_text("site,time,kw\nmatsue,2026-05-21T13:00:00+09:00,-3\n", encoding="utf-8")
    with pytest.raises(InputError, match="kw"):
        read_meter_csv(path)
