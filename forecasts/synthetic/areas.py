"""Per-area parameters of the synthetic grid (`forecasts.synthetic.grid`), from published figures.

All figures are rounded public numbers, not fitted to the shared TSO files. Sources:

* Installed PV / wind: the TSOs' published grid-connection status of renewables
  (九州電力送配電「再エネ接続状況」, 中国電力ネットワーク「再生可能エネルギーの連系状況」,
  東京電力パワーグリッド「再エネ連系量」, 北海道電力ネットワーク「再エネ連系状況」), end of
  FY2022, rounded; cross-checked against the
  `capacity` tables of Electricity Maps' zone configs (JP-KY 10.9 GW, JP-CG 5.7 GW, JP-TK
  11.9 GW PV — older snapshots, lower than the TSO figures).
* Annual area demand (TWh) and peak (MW): OCCTO「電力需給及び電力系統に関する概況」
  (FY2022/FY2023 editions), rounded.
* Nuclear: operating units (Kyushu: Sendai 1/2 2×890 MW, Genkai 3/4 2×1,180 MW, at ~85 %
  availability; Chugoku: Shimane 2 offline until Dec 2024; Tokyo: none operating).
* Pumped storage: plant ratings (Kyushu: Omarugawa, Tenzan, Ohira ≈ 2.3 GW; Chugoku:
  Matanogawa, Nabara ≈ 2.1 GW; Tokyo: Kannagawa, Kazunogawa, Tamahara, Shiobara … ≈ 7 GW).
* Export limits: OCCTO operating capacities of the interconnections (Kanmon ≈ 2.8 GW
  Kyushu→Chugoku); for Chugoku and Tokyo the *net* room left for surplus export is a modelling
  choice (Chugoku's westward lines also carry Kyushu's export; Tokyo imports on average).
* Thermal fleet by fuel: the utilities' plant lists (coal, LNG, oil ratings), rounded.
* Cloudiness: monthly mean daily clear-sky index, rounded from JMA sunshine climatology
  (Fukuoka, Hiroshima/Matsue, Tokyo); the rainy season (梅雨) is the June–July dip.
Flexibility: in surplus hours the TSOs keep more thermal on line, pump less and export less
than the plant ratings allow (day-ahead curtailment orders carry forecast margins, reserves and
market flows). The `min_thermal_mw`, `pump_mw`, `pump_daily_mwh` and `export_limit_mw` below are
*effective* values, modelling choices set so that the yearly curtailment is of the order of
the published FY2023 curtailment rates (Kyushu ≈ 7–9 %, Chugoku ≈ 3–4 % of solar output);
they are not plant ratings.
Where a number is a modelling choice rather than a published figure, its comment says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from inputs.errors import InputError

AREAS = ("hokkaido", "tohoku", "tokyo", "chubu", "hokuriku", "kansai", "chugoku", "shikoku",
         "kyushu", "okinawa")

AREA_LAT_LON: dict[str, tuple[float, float]] = {
    # Representative point of each area's PV fleet (a large city near its centre), degrees.
    "hokkaido": (43.06, 141.35),
    "tohoku": (38.27, 140.87),
    "tokyo": (35.90, 139.80),
    "chubu": (35.18, 136.91),
    "hokuriku": (36.59, 136.63),
    "kansai": (34.69, 135.50),
    "chugoku": (34.55, 133.20),
    "shikoku": (33.84, 133.30),
    "kyushu": (32.80, 130.70),
    "okinawa": (26.21, 127.68),
}


@dataclass(frozen=True)
class AreaParams:
    """Parameters of one synthetic area. Power in MW, energy in TWh, times JST hours."""

    area: str
    pv_capacity_mw: float
    """Installed PV (DC), MW."""
    wind_capacity_mw: float
    annual_demand_twh: float
    """Area demand per year, TWh (sets the mean demand)."""
    summer_peak_gain: float
    """Seasonal demand bump in early August, fraction of the mild-season level."""
    winter_peak_gain: float
    """Seasonal demand bump in late January, fraction of the mild-season level."""
    nuclear_mw: float
    """Average nuclear output (must-run), MW."""
    hydro_mw: float
    """Mean run-of-river hydro, MW (seasonal shape applied)."""
    hydro_spring_gain: float
    """Extra hydro in May–July (snowmelt and rain), fraction of the mean."""
    geothermal_mw: float
    biomass_mw: float
    min_thermal_mw: float
    """Thermal kept on line for reserves and inertia (must-run), MW."""
    coal_mw: float
    """Coal available for dispatch (runs first, merit order), MW."""
    lng_mw: float
    """LNG available for dispatch (after coal), MW; oil covers the rest."""
    other_thermal_share: float
    """Share of thermal output from other fuels (by-product gas, etc.)."""
    base_interconnection_mw: float
    """Scheduled net flow outside surplus hours, MW (+ import, − export); modelling choice."""
    export_limit_mw: float
    """Largest net export in surplus hours, MW (the flow never goes below −this)."""
    pump_mw: float
    """Pumped-storage pumping capacity, MW."""
    pump_daily_mwh: float
    """Upper reservoir room per day, MWh of pumping."""
    monthly_clear_sky_index: tuple[float, ...]
    """Mean daily clear-sky index Jan…Dec (actual / clear-sky irradiance), 0–1."""
    wind_scale_m_per_s: float
    """Weibull scale of hub-height wind speed (shape 2), m/s; modelling choice."""


PARAMS: dict[str, AreaParams] = {
    "kyushu": AreaParams(
        area="kyushu",
        pv_capacity_mw=11_500,  # Kyushu T&D connection status, end FY2022 ≈ 11.5 GW
        wind_capacity_mw=700,
        annual_demand_twh=85.0,  # OCCTO: Kyushu area demand ≈ 85 TWh/yr, peak ≈ 16 GW
        summer_peak_gain=0.35,
        winter_peak_gain=0.30,
        nuclear_mw=3_500,  # 4,140 MW of units × ~0.85 availability
        hydro_mw=450,
        hydro_spring_gain=0.6,
        geothermal_mw=150,  # ≈ 150 MW average output of Hatchobaru, Otake, Yamagawa …
        biomass_mw=500,
        min_thermal_mw=2_400,  # modelling choice: see "Flexibility" in the module docstring
        coal_mw=4_000,
        lng_mw=4_500,
        other_thermal_share=0.03,
        base_interconnection_mw=-1_500,  # modelling choice: Kyushu exports most hours
        export_limit_mw=2_300,  # effective; Kanmon operating capacity ≈ 2.78 GW
        pump_mw=1_500,  # effective; 2.3 GW rated
        pump_daily_mwh=7_500,
        monthly_clear_sky_index=(0.52, 0.56, 0.60, 0.66, 0.66, 0.50,
                                 0.56, 0.64, 0.58, 0.66, 0.60, 0.52),
        wind_scale_m_per_s=6.0,
    ),
    "chugoku": AreaParams(
        area="chugoku",
        pv_capacity_mw=6_800,  # Chugoku NW connection status, end FY2022 ≈ 6.8 GW
        wind_capacity_mw=400,
        annual_demand_twh=57.0,  # OCCTO: Chugoku ≈ 57 TWh/yr, peak ≈ 10.5 GW
        summer_peak_gain=0.35,
        winter_peak_gain=0.38,
        nuclear_mw=0.0,  # Shimane 2 restarted only in Dec 2024
        hydro_mw=230,
        hydro_spring_gain=0.7,
        geothermal_mw=0.0,
        biomass_mw=200,
        min_thermal_mw=2_300,  # modelling choice: coal-heavy fleet, high floor
        coal_mw=3_900,
        lng_mw=2_600,
        other_thermal_share=0.03,
        base_interconnection_mw=300,  # modelling choice: small net import from Kyushu
        export_limit_mw=300,  # modelling choice: Kyushu's transit fills the eastward lines
        pump_mw=1_000,  # effective; 2.1 GW rated
        pump_daily_mwh=5_000,
        monthly_clear_sky_index=(0.48, 0.54, 0.60, 0.66, 0.66, 0.50,
                                 0.56, 0.66, 0.58, 0.66, 0.58, 0.48),
        wind_scale_m_per_s=6.0,
    ),
    "tokyo": AreaParams(
        area="tokyo",
        pv_capacity_mw=20_000,  # TEPCO PG: ≈ 19–20 GW PV connected by FY2023
        wind_capacity_mw=600,
        annual_demand_twh=280.0,  # OCCTO: Tokyo ≈ 280 TWh/yr, peak ≈ 58 GW
        summer_peak_gain=0.45,
        winter_peak_gain=0.38,
        nuclear_mw=0.0,  # Kashiwazaki-Kariwa offline
        hydro_mw=1_200,
        hydro_spring_gain=0.5,
        geothermal_mw=0.0,
        biomass_mw=400,
        min_thermal_mw=8_000,  # modelling choice: large LNG fleet on line
        coal_mw=8_400,
        lng_mw=42_000,
        other_thermal_share=0.04,
        base_interconnection_mw=4_500,  # modelling choice: Tokyo imports on average
        export_limit_mw=1_500,  # modelling choice: FC + Tohoku lines, net
        pump_mw=7_000,
        pump_daily_mwh=35_000,
        monthly_clear_sky_index=(0.70, 0.66, 0.58, 0.58, 0.58, 0.44,
                                 0.50, 0.58, 0.50, 0.52, 0.60, 0.68),
        wind_scale_m_per_s=6.0,
    ),
    "hokkaido": AreaParams(
        area="hokkaido",
        pv_capacity_mw=2_300,  # Hokkaido NW connection status, end FY2022 ≈ 2.3 GW
        wind_capacity_mw=800,  # ≈ 0.8 GW connected, the windiest area
        annual_demand_twh=29.0,  # OCCTO: Hokkaido ≈ 29 TWh/yr, winter peak ≈ 5 GW
        summer_peak_gain=0.05,  # cool summers, little air conditioning
        winter_peak_gain=0.45,  # heating and snow-melting
        nuclear_mw=0.0,  # Tomari offline
        hydro_mw=550,
        hydro_spring_gain=0.9,  # snowmelt
        geothermal_mw=20.0,  # Mori
        biomass_mw=200,
        min_thermal_mw=900,  # modelling choice: small isolated system, high reserve share
        coal_mw=2_500,  # Tomato-atsuma, Sunagawa, Naie …
        lng_mw=1_100,  # Ishikari Bay New Port units 1–2
        other_thermal_share=0.03,
        base_interconnection_mw=0.0,  # modelling choice: the HVDC link is balanced on average
        export_limit_mw=500,  # effective; Hokkaido–Honshu HVDC 0.9 GW
        pump_mw=400,  # Kyogoku, Takami (effective)
        pump_daily_mwh=2_000,
        monthly_clear_sky_index=(0.40, 0.48, 0.58, 0.62, 0.62, 0.56,
                                 0.52, 0.54, 0.56, 0.54, 0.42, 0.38),
        wind_scale_m_per_s=7.5,  # modelling choice: windier than the southern areas
    ),
}


def area_params(area: str) -> AreaParams:
    """The synthetic parameters of `area` (lower-case TSO area name)."""
    key = area.strip().lower()
    if key not in PARAMS:
        known = ", ".join(sorted(PARAMS))
        raise InputError("synthetic", "area", area, f"no synthetic parameters (have {known})")
    return PARAMS[key]


def area_lat_lon(area: str) -> tuple[float, float]:
    """Representative latitude/longitude (degrees) of `area`'s PV fleet."""
    key = area.strip().lower()
    if key not in AREA_LAT_LON:
        raise InputError("area", "area", area, f"unknown area (one of {', '.join(AREAS)})")
    return AREA_LAT_LON[key]
