"""Tops: the most played tracks, artists and albums of the chosen dates."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st
from streamlit.elements.lib.column_types import ColumnConfig

from spotify_elt.dashboard import charts, ui

chosen = ui.filters()
ui.page_header("Tops", chosen)
if ui.no_plays(chosen):
    st.stop()

rank_column, size_column = st.columns([1, 2])
with rank_column:
    rank_by = st.segmented_control(
        "Rank by", options=["plays", "minutes"], default="plays", required=True,
        format_func=str.capitalize, key="tops-rank-by",
    )  # fmt: skip
with size_column:
    size = st.slider("How many", min_value=5, max_value=50, value=10, step=5, key="tops-size")
ranked = replace(chosen, rank_by="minutes" if rank_by == "minutes" else "plays", limit=size)
metric, metric_title = (
    ("minutes_played", "Minutes") if ranked.rank_by == "minutes" else ("plays", "Plays")
)
COLUMNS: dict[str, ColumnConfig | str] = {
    "rank": st.column_config.NumberColumn("#", width="small"),
    "track_name": "Track",
    "album_name": "Album",
    "artist_name": "Artist",
    "release_year": st.column_config.NumberColumn("Year", format="%d"),
    "plays": st.column_config.NumberColumn("Plays", format="localized"),
    "minutes_played": st.column_config.NumberColumn("Minutes", format="%.0f"),
}

for title, name, label, shown in (
    ("Tracks", "top_tracks", "track_name", ["rank", "track_name", "artist_name", "album_name"]),
    ("Artists", "top_artists", "artist_name", ["rank", "artist_name"]),
    ("Albums", "top_albums", "album_name", ["rank", "album_name", "artist_name", "release_year"]),
):
    st.subheader(title)
    frame = ui.query(name, ranked)
    chart_column, table_column = st.columns([3, 2])
    with chart_column:
        st.altair_chart(charts.ranking(frame, label, metric, metric_title), width="stretch")
    with table_column:
        st.dataframe(
            frame[[*shown, "plays", "minutes_played"]], hide_index=True, width="stretch",
            column_config=COLUMNS,
        )  # fmt: skip
