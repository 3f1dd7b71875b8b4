"""Japanese calendar features known years ahead: national holidays, off days, long breaks.

National holidays follow the Act on National Holidays (国民の祝日に関する法律) as amended
through 2018: fixed dates, Happy-Monday holidays, the equinoxes (astronomical
approximation valid 1980–2099), substitute holidays (振替休日: a holiday on a Sunday moves
to the next non-holiday) and citizens' holidays (国民の休日: a day between two holidays),
plus the 2020/2021 Olympic moves. Customary closures with weekend-like demand: New Year
(29 Dec – 3 Jan) and Obon (13 – 16 Aug). Long breaks (Golden Week 29 Apr – 6 May, Obon
11 – 16 Aug, New Year 29 Dec – 3 Jan) are flagged separately: demand stays low for days.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import numpy as np
import pandas as pd

_FIXED = ((1, 1), (2, 11), (2, 23), (4, 29), (5, 3), (5, 4), (5, 5), (8, 11), (11, 3),
          (11, 23))
"""(month, day) of fixed-date national holidays (Emperor's Birthday 23 Feb from 2020)."""
_HAPPY_MONDAYS = ((1, 2), (7, 3), (9, 3), (10, 2))
"""(month, n): the n-th Monday is a holiday (Coming of Age, Marine, Aged, Sports Day)."""
_OLYMPIC_MOVES = {
    2020: ({(7, 20), (10, 12), (8, 11)}, {(7, 23), (7, 24), (8, 10)}),
    2021: ({(7, 19), (10, 11), (8, 11)}, {(7, 22), (7, 23), (8, 8)}),
}
"""Year → (holidays removed, holidays added) for the Tokyo Olympics."""
_CLOSURES = ((1, 2), (1, 3), (8, 13), (8, 14), (8, 15), (8, 16), (12, 29), (12, 30),
             (12, 31))
"""(month, day) of customary closures (New Year, Obon), off days but not national holidays."""


def _nth_monday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(7 - first.weekday()) % 7 + 7 * (n - 1))


def _equinoxes(year: int) -> tuple[date, date]:
    k = year - 1980
    spring = int(20.8431 + 0.242194 * k - k // 4)
    autumn = int(23.2488 + 0.242194 * k - k // 4)
    return date(year, 3, spring), date(year, 9, autumn)


@lru_cache(maxsize=256)
def national_holidays(year: int) -> frozenset[date]:
    """The national holidays of `year` (substitute and citizens' holidays included)."""
    days = {date(year, m, d) for m, d in _FIXED if not (m == 2 and d == 23 and year < 2020)}
    if year < 2019:
        days.add(date(year, 12, 23))
    days |= {_nth_monday(year, m, n) for m, n in _HAPPY_MONDAYS}
    days |= set(_equinoxes(year))
    if year in _OLYMPIC_MOVES:
        removed, added = _OLYMPIC_MOVES[year]
        days -= {date(year, m, d) for m, d in removed}
        days -= {_nth_monday(year, m, n) for m, n in _HAPPY_MONDAYS if m in (7, 10)}
        days |= {date(year, m, d) for m, d in added}
    for day in sorted(days):  # citizens' holiday: sandwiched between two holidays
        between = day + timedelta(days=1)
        if between + timedelta(days=1) in days and between not in days and between.weekday() != 6:
            days.add(between)
    for day in sorted(days):  # substitute holiday: the next day that is not a holiday
        if day.weekday() == 6:
            sub = day + timedelta(days=1)
            while sub in days:
                sub += timedelta(days=1)
            days.add(sub)
    return frozenset(days)


def _jst_dates(jst: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return jst.year.to_numpy(), jst.month.to_numpy(), jst.day.to_numpy()


def is_national_holiday(jst: pd.DatetimeIndex) -> np.ndarray:
    """True for slots (index in Asia/Tokyo) on a Japanese national holiday."""
    years, months, days = _jst_dates(jst)
    holidays = {d for y in np.unique(years) for d in national_holidays(int(y))}
    keys = years * 10_000 + months * 100 + days
    wanted = [d.year * 10_000 + d.month * 100 + d.day for d in holidays]
    return np.isin(keys, wanted)


def is_off_day(jst: pd.DatetimeIndex) -> np.ndarray:
    """True on weekends, national holidays and the New Year / Obon closures (JST index)."""
    _, months, days = _jst_dates(jst)
    closure = np.isin(months * 100 + days, [m * 100 + d for m, d in _CLOSURES])
    return (jst.day_of_week.to_numpy() >= 5) | closure | is_national_holiday(jst)


def is_long_break(jst: pd.DatetimeIndex) -> np.ndarray:
    """True in Golden Week (29 Apr – 6 May), Obon (11 – 16 Aug) and New Year (29 Dec –
    3 Jan), when many businesses close for days (JST index)."""
    _, months, days = _jst_dates(jst)
    md = months * 100 + days
    return (((md >= 429) & (md <= 506)) | ((md >= 811) & (md <= 816))
            | (md >= 1229) | (md <= 103))
