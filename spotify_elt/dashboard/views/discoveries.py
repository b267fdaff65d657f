"""Discoveries: tracks and artists the listener heard for the first time, week by week, and
the On Repeat and Rediscover lists."""

from __future__ import annotations

import streamlit as st
from streamlit.elements.lib.column_types import ColumnConfig

from spotify_elt.dashboard import charts, ui

chosen = ui.filters()
ui.page_header("Discoveries", chosen, note="first plays of 30 s or more")
if ui.no_plays(chosen):
    st.stop()

totals = ui.query("overview_totals", chosen).iloc[0]
weekly = ui.query("weekly_discoveries", chosen)
figures = st.columns(3)
figures[0].metric("New tracks", ui.count_text(totals["new_tracks"]), border=True)
figures[1].metric("New artists", ui.count_text(totals["new_artists"]), border=True)
distinct = int(totals["distinct_tracks"])
figures[2].metric(
    "Tracks that were new",
    f"{int(totals['new_tracks']) / distinct:.0%}" if distinct else "n/a",
    help="New tracks among the different tracks played in these dates.",
    border=True,
)

st.subheader("Week by week")
if len(weekly):
    st.altair_chart(charts.weekly_discoveries(weekly), width="stretch")
    if bool(weekly["is_first_week"].any()):
        st.caption("In the first week of the history everything is new.")
else:
    st.info("No weeks with plays of 30 s or more in these dates.")

TRACK_COLUMNS: dict[str, ColumnConfig | str] = {
    "rank": st.column_config.NumberColumn("#", width="small"),
    "track_name": "Track",
    "artist_name": "Artist",
    "album_name": "Album",
    "first_played_at_local": st.column_config.DatetimeColumn("First played", format="D MMM YYYY"),
    "last_played_at_local": st.column_config.DatetimeColumn("Last played", format="D MMM YYYY"),
    "first_track": "First heard on",
    "total_plays": st.column_config.NumberColumn("Plays so far", format="localized"),
    "plays": st.column_config.NumberColumn("Plays", format="localized"),
    "minutes_played": st.column_config.NumberColumn("Minutes", format="%.0f"),
}
tracks_column, artists_column = st.columns(2)
with tracks_column:
    st.subheader("Best new tracks")
    found = ui.query("track_discoveries", chosen)
    st.dataframe(
        found[["rank", "track_name", "artist_name", "first_played_at_local", "total_plays"]],
        hide_index=True, width="stretch", column_config=TRACK_COLUMNS,
    )  # fmt: skip
with artists_column:
    st.subheader("Best new artists")
    found = ui.query("artist_discoveries", chosen)
    st.dataframe(
        found[["rank", "artist_name", "first_track", "first_played_at_local", "total_plays"]],
        hide_index=True, width="stretch", column_config=TRACK_COLUMNS,
    )  # fmt: skip

lists = ui.query("on_repeat", chosen), ui.query("rediscover", chosen)
as_of = next((frame["as_of_date"].iloc[0] for frame in lists if len(frame)), None)
st.divider()
st.caption(
    "These two lists follow the listener's latest plays, not the dates in the sidebar"
    + (f" (as of {ui.day_text(as_of)})." if as_of is not None else ".")
)
repeat_column, rediscover_column = st.columns(2)
with repeat_column:
    st.subheader("On Repeat")
    if len(lists[0]):
        st.dataframe(
            lists[0][["rank", "track_name", "artist_name", "plays", "last_played_at_local"]],
            hide_index=True, width="stretch", column_config=TRACK_COLUMNS,
        )  # fmt: skip
    else:
        st.info("Nothing played twice lately.")
with rediscover_column:
    st.subheader("Rediscover")
    if len(lists[1]):
        st.dataframe(
            lists[1][["rank", "track_name", "artist_name", "plays", "last_played_at_local"]],
            hide_index=True, width="stretch", column_config=TRACK_COLUMNS,
        )  # fmt: skip
    else:
        st.info("No old favourite left unplayed lately.")
