"""Sessions and streaks: how long the listener keeps listening, and how many days in a row."""

from __future__ import annotations

import streamlit as st

from spotify_elt.dashboard import charts, ui

chosen = ui.filters()
ui.page_header(
    "Sessions & streaks",
    chosen,
    note="a session ends at a pause of over 30 min (dbt var session_gap_minutes); a streak is "
    "days in a row with a play of 30 s or more",
)
if ui.no_plays(chosen):
    st.stop()

summary = ui.query("session_summary", chosen).iloc[0]
streaks = ui.query("streaks", chosen)
figures = st.columns(4)
figures[0].metric("Sessions", ui.count_text(summary["sessions"]), border=True)
figures[1].metric(
    "Average session", ui.minutes_text(float(summary["average_minutes"] or 0)), border=True
)
figures[2].metric(
    "Longest session", ui.minutes_text(float(summary["longest_minutes"] or 0)), border=True
)
longest_streak = int(streaks["days_in_range"].max()) if len(streaks) else 0
figures[3].metric(
    "Longest streak", ui.days_text(longest_streak),
    help="Days in a row within the chosen dates.", border=True,
)  # fmt: skip

lengths_column, longest_column = st.columns([2, 3])
with lengths_column:
    st.subheader("Session lengths")
    lengths = ui.query("session_lengths", chosen)
    st.altair_chart(
        charts.bars(
            lengths, "length", "sessions", "Minutes", "Sessions", sort=list(lengths["length"])
        ),
        width="stretch",
    )
with longest_column:
    st.subheader("Longest sessions")
    longest = ui.query("longest_sessions", chosen)
    st.dataframe(
        longest.drop(columns=["minutes_played"]),
        hide_index=True, width="stretch",
        column_config={
            "rank": st.column_config.NumberColumn("#", width="small"),
            "started_at_local": st.column_config.DatetimeColumn(
                "Started", format="ddd D MMM YYYY, HH:mm"
            ),
            "ended_at_local": st.column_config.DatetimeColumn("Ended", format="HH:mm"),
            "duration_minutes": st.column_config.NumberColumn("Minutes", format="%.0f"),
            "plays": "Plays",
            "distinct_tracks": "Tracks",
            "skipped_plays": "Skipped",
        },
    )  # fmt: skip

st.subheader("Streaks")
if len(streaks):
    st.altair_chart(charts.streak_timeline(streaks), width="stretch")
    latest = streaks[streaks["is_latest"]]
    if len(latest):
        row = latest.iloc[0]
        st.caption(
            f"Latest streak: {ui.days_text(int(row['days']))}, "
            f"{ui.day_text(row['started_on_date'])} to {ui.day_text(row['ended_on_date'])}."
        )
else:
    st.info("No streaks in these dates.")

st.subheader("Artist streaks")
artist_streaks = ui.query("artist_streaks", chosen)
if len(artist_streaks):
    st.dataframe(
        artist_streaks, hide_index=True, width="stretch",
        column_config={
            "rank": st.column_config.NumberColumn("#", width="small"),
            "artist_name": "Artist",
            "started_on_date": st.column_config.DateColumn("From", format="ddd D MMM YYYY"),
            "ended_on_date": st.column_config.DateColumn("To", format="ddd D MMM YYYY"),
            "days": "Days in a row",
            "plays": "Plays",
        },
    )  # fmt: skip
else:
    st.info("No artist played two days in a row in these dates.")
