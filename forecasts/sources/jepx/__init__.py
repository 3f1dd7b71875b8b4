"""JEPX day-ahead spot results (スポット市場取引結果): parser."""
