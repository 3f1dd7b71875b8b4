"""Grid data sources and their parsers: Japanese TSO area files (`jp_tso`), JEPX prices (`jepx`)."""
