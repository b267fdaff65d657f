"""Overview: how much the listener played in the chosen dates, what, and when."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from spotify_elt.dashboard import charts, ui

chosen = ui.filters()
ui.page_header("Overview", chosen)
if ui.no_plays(chosen):
    st.stop()

totals = ui.query("overview_totals", chosen).iloc[0]
plays, minutes = int(totals["plays"]), float(totals["minutes_played"])
first_row = st.columns(3)
first_row[0].metric("Plays", ui.count_text(plays), border=True)
first_row[1].metric(
    "Minutes", ui.count_text(minutes), help=f"{ui.minutes_text(minutes)} of listening", border=True
)
first_row[2].metric(
    "Days with plays", f"{int(totals['active_days']):,} of {int(totals['days_in_range']):,}",
    border=True,
)  # fmt: skip
second_row = st.columns(3)
second_row[0].metric("Different tracks", ui.count_text(totals["distinct_tracks"]), border=True)
second_row[1].metric("Different artists", ui.count_text(totals["distinct_artists"]), border=True)
with_skip_data = int(totals["plays_with_skip_data"])
second_row[2].metric(
    "Skipped",
    f"{int(totals['skipped_plays']) / with_skip_data:.0%}" if with_skip_data else "n/a",
    help="Share of plays skipped, among plays whose skips are known (privacy-export rows).",
    border=True,
)

daily = ui.query("daily_listening", chosen)
over_time, split = st.columns([3, 1])
with over_time:
    st.subheader("Listening over time")
    st.altair_chart(charts.listening_over_time(daily), width="stretch")
with split:
    st.subheader("What you played")
    st.altair_chart(charts.content_split(totals), width="stretch")
    shares = {
        "Music": float(totals["track_minutes"]),
        "Podcasts": float(totals["episode_minutes"]),
        "Audiobooks": float(totals["audiobook_minutes"]),
    }
    whole = sum(shares.values()) or 1.0
    st.caption(" · ".join(f"{name} {part / whole:.0%}" for name, part in shares.items() if part))

top_five = replace(chosen, limit=5)
tracks_column, artists_column = st.columns(2)
with tracks_column:
    st.subheader("Top tracks")
    tracks = ui.query("top_tracks", top_five)
    st.altair_chart(charts.ranking(tracks, "track_name", "plays", "Plays"), width="stretch")
with artists_column:
    st.subheader("Top artists")
    artists = ui.query("top_artists", top_five)
    st.altair_chart(charts.ranking(artists, "artist_name", "plays", "Plays"), width="stretch")
