"""Time patterns: when in the week and the day the listener plays, and month by month."""

from __future__ import annotations

import streamlit as st

from spotify_elt.dashboard import charts, ui

chosen = ui.filters()
ui.page_header("Time patterns", chosen, note="hours in the listener's local time")
if ui.no_plays(chosen):
    st.stop()

hourly = ui.query("hourly_heatmap", chosen)
# Every hour and every day, also those without plays: a gap is part of the pattern.
by_hour = (
    hourly.groupby("hour_of_day")[["plays", "minutes_played"]]
    .sum()
    .reindex(range(24), fill_value=0)
    .rename_axis("hour_of_day")
    .reset_index()
)
by_day = (
    hourly.groupby("day_of_week")[["plays", "minutes_played"]]
    .sum()
    .reindex(range(1, 8), fill_value=0)
    .rename_axis("day_of_week")
    .reset_index()
)
by_day["day"] = charts.DAY_NAMES

busiest_hour = by_hour.sort_values(["minutes_played", "plays"], ascending=False).iloc[0]
busiest_day = by_day.sort_values(["minutes_played", "plays"], ascending=False).iloc[0]
weekend = by_day[by_day["day_of_week"] >= 6]["minutes_played"].sum()
night = by_hour[(by_hour["hour_of_day"] < 6)]["minutes_played"].sum()
total = max(float(by_hour["minutes_played"].sum()), 1e-9)
figures = st.columns(4)
figures[0].metric("Busiest hour", ui.hour_text(int(busiest_hour["hour_of_day"])), border=True)
figures[1].metric("Busiest day of the week", str(busiest_day["day"]), border=True)
figures[2].metric("Weekend share", f"{weekend / total:.0%}", border=True)
figures[3].metric("Night share (00:00-06:00)", f"{night / total:.0%}", border=True)

st.subheader("Day of the week and hour of the day")
st.altair_chart(charts.heatmap(hourly), width="stretch")
hour_column, day_column = st.columns(2)
with hour_column:
    st.subheader("By hour of the day")
    st.altair_chart(
        charts.bars(by_hour, "hour_of_day", "minutes_played", "Hour", "Minutes"), width="stretch"
    )
with day_column:
    st.subheader("By day of the week")
    st.altair_chart(
        charts.bars(by_day, "day", "minutes_played", "Day", "Minutes", sort=charts.DAY_NAMES),
        width="stretch",
    )
st.subheader("Month by month")
st.altair_chart(charts.monthly(ui.query("monthly_listening", chosen)), width="stretch")
