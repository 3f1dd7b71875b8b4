"""Japanese TSOs: download the current area supply–demand file (エリア需給実績) and parse it.

Since FY2024 every TSO publishes one unified 30-minute CSV per month named
`eria_jukyu_YYYYMM_NN.csv` (NN = OCCTO area code). The current month's file grows during
the month; at the start of a month it may not exist yet, so a 404 falls back to the
previous month's file (and for Tohoku, whose monthly file lags by weeks, to today's
real-time file first).

The file is `eria_jukyu_{yyyymm}_NN.csv` (`{yyyymm}` = JST month) in the directory:

| area | NN | directory (https://…) | notes |
|------|----|-----------------------|-------|
| hokkaido | 01 | www.hepco.co.jp/network/con_service/public_document/supply_demand_results/csv/ | |
| tohoku   | 02 | setsuden.nw.tohoku-epco.co.jp/common/demand/ | lags; daily file ¹ |
| tokyo    | 03 | www.tepco.co.jp/forecast/html/images/ | |
| chubu    | 04 | powergrid.chuden.co.jp/denki_yoho_content_data/ | old months: zip ² |
| hokuriku | 05 | www.rikuden.co.jp/nw/denki-yoho/csv/ | |
| kansai   | 06 | www.kansai-td.co.jp/interchange/denkiyoho/area-performance/ | |
| chugoku  | 07 | www.energia.co.jp/nw/jukyuu/sys/ | |
| shikoku  | 08 | www.yonden.co.jp/nw/supply_demand/csv/ | |
| kyushu   | 09 | www.kyuden.co.jp/td_area_jukyu/csv/ | times label slot ends |
| okinawa  | 10 | www.okiden.co.jp/business-support/service/supply-and-demand/csv/ | |

¹ `…/common/demand/realtime_jukyu/realtime_jukyu_{yyyymmdd}_02.csv`, same layout.
² only the latest months stand alone; older ones are in `eria_jukyu_{FY}.zip` (not fetched).

Where the URLs come from: TEPCO's is in `shared/data/grid/SOURCES.md` §1.6; all ten
(including TEPCO's) are the ones the Electricity Maps open-source parser
(`electricitymaps-contrib`, `parsers/JP.py`, 2025–26) fetches. We could not reach the
TSO sites from here, so none was checked live; each TSO has moved its files before —
`base_url` overrides the directory (tests point it at a loopback server).

These are *results* (実績), not forecasts: `fetch` returns the recent past as a
`Forecast` for the forecasting models (section 4) and for replays.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

import pandas as pd

from forecasts.carbon.signals import signals_from_tidy
from forecasts.forecast import Forecast
from forecasts.providers._common import check_window, clip
from forecasts.providers.http import HttpClient, HttpConfig, ProviderDataError, ProviderHTTPError
from forecasts.sources.jp_tso.parse import parse_area_file
from inputs.clock import utc_now
from inputs.errors import InputError

NAME = "jp-tso"
JST = "Asia/Tokyo"


@dataclass(frozen=True)
class TsoSource:
    """Where one TSO publishes its unified monthly area file."""

    code: str
    """OCCTO area code, `01`…`10`."""
    monthly_url: str
    """URL pattern with `{yyyymm}` (JST month)."""
    daily_url: str | None = None
    """Pattern with `{yyyymmdd}` of a real-time daily file, where the TSO has one."""


TSO_SOURCES: Mapping[str, TsoSource] = MappingProxyType({
    "hokkaido": TsoSource("01", "https://www.hepco.co.jp/network/con_service/public_document/"
                                "supply_demand_results/csv/eria_jukyu_{yyyymm}_01.csv"),
    "tohoku": TsoSource("02", "https://setsuden.nw.tohoku-epco.co.jp/common/demand/"
                              "eria_jukyu_{yyyymm}_02.csv",
                        "https://setsuden.nw.tohoku-epco.co.jp/common/demand/realtime_jukyu/"
                        "realtime_jukyu_{yyyymmdd}_02.csv"),
    "tokyo": TsoSource("03", "https://www.tepco.co.jp/forecast/html/images/"
                             "eria_jukyu_{yyyymm}_03.csv"),
    "chubu": TsoSource("04", "https://powergrid.chuden.co.jp/denki_yoho_content_data/"
                             "eria_jukyu_{yyyymm}_04.csv"),
    "hokuriku": TsoSource("05", "https://www.rikuden.co.jp/nw/denki-yoho/csv/"
                                "eria_jukyu_{yyyymm}_05.csv"),
    "kansai": TsoSource("06", "https://www.kansai-td.co.jp/interchange/denkiyoho/"
                              "area-performance/eria_jukyu_{yyyymm}_06.csv"),
    "chugoku": TsoSource("07", "https://www.energia.co.jp/nw/jukyuu/sys/"
                               "eria_jukyu_{yyyymm}_07.csv"),
    "shikoku": TsoSource("08", "https://www.yonden.co.jp/nw/supply_demand/csv/"
                               "eria_jukyu_{yyyymm}_08.csv"),
    "kyushu": TsoSource("09", "https://www.kyuden.co.jp/td_area_jukyu/csv/"
                              "eria_jukyu_{yyyymm}_09.csv"),
    "okinawa": TsoSource("10", "https://www.okiden.co.jp/business-support/service/"
                               "supply-and-demand/csv/eria_jukyu_{yyyymm}_10.csv"),
})


@dataclass(frozen=True)
class JpTsoConfig:
    """Download settings; `base_url` replaces every TSO's directory (file name kept)."""

    base_url: str | None = None
    http: HttpConfig = field(default_factory=HttpConfig)


class JpTsoProvider:
    """`fetch(area, start, end)` → the area's recent signals from its TSO's current file."""

    name = NAME

    def __init__(self, config: JpTsoConfig | None = None, client: HttpClient | None = None,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.config = config or JpTsoConfig()
        self.client = client or HttpClient(NAME, self.config.http)
        self.clock = clock

    def candidate_urls(self, area: str, when: datetime | None = None) -> list[str]:
        """URLs tried in order: this JST month, today's daily file (if any), last month."""
        if area not in TSO_SOURCES:
            raise InputError(NAME, "area", area, f"one of {', '.join(TSO_SOURCES)}")
        src = TSO_SOURCES[area]
        now = pd.Timestamp(when or self.clock()).tz_convert(JST)
        last_month = (now.replace(day=1) - timedelta(days=1))
        urls = [src.monthly_url.format(yyyymm=now.strftime("%Y%m"))]
        if src.daily_url:
            urls.append(src.daily_url.format(yyyymmdd=now.strftime("%Y%m%d")))
        urls.append(src.monthly_url.format(yyyymm=last_month.strftime("%Y%m")))
        if self.config.base_url:
            base = self.config.base_url.rstrip("/")
            urls = [f"{base}/{u.rsplit('/', 1)[1]}" for u in urls]
        return urls

    def download(self, area: str, when: datetime | None = None) -> tuple[str, bytes]:
        """(file name, bytes) of the newest published file; a 404 moves to the next URL."""
        urls = self.candidate_urls(area, when)
        for i, url in enumerate(urls):
            try:
                return url.rsplit("/", 1)[1], self.client.get_bytes(url)
            except ProviderHTTPError as exc:
                if exc.status != 404 or i + 1 == len(urls):
                    raise
        raise AssertionError("unreachable: the last URL re-raises")  # pragma: no cover

    def fetch_tidy(self, area: str, start: datetime | None = None,
                   end: datetime | None = None) -> pd.DataFrame:
        """The downloaded file as the tidy table of `sources.jp_tso.parse`, in the window."""
        check_window(start, end)
        name, raw = self.download(area)
        try:
            tidy = parse_area_file(raw, area=area, name=name)
        except InputError as exc:  # the TSO changed its file: a data error, not user input
            raise ProviderDataError(NAME, exc.field, str(exc), name) from None
        t = pd.DatetimeIndex(pd.to_datetime(tidy["time_utc"], utc=True, format="ISO8601"))
        keep = pd.Series(True, index=tidy.index)
        if start is not None:
            keep &= t >= pd.Timestamp(start)
        if end is not None:
            keep &= t < pd.Timestamp(end)
        return tidy.loc[keep.to_numpy()].reset_index(drop=True)

    def fetch(self, region: str, start: datetime | None = None,
              end: datetime | None = None) -> Forecast:
        """Area `region` (e.g. `chugoku`) → `Forecast` via `carbon.signals` (mix → gCO2/kWh)."""
        tidy = self.fetch_tidy(region, start, end)
        if tidy.empty:
            raise ProviderDataError(NAME, "time_utc", f"no slot of {region} in {start} – {end}")
        try:
            fc = signals_from_tidy(tidy, region, source=NAME)
        except InputError as exc:  # e.g. a gap in the TSO's file
            raise ProviderDataError(NAME, exc.field, str(exc)) from None
        return clip(fc, start, end)
