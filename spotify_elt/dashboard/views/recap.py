"""Recap: the chosen dates in one page, the way Spotify Wrapped tells a year."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from spotify_elt.dashboard import charts, ui

chosen = ui.filters()
ui.page_header("Recap", chosen)
if ui.no_plays(chosen):
    st.stop()

first = replace(chosen, limit=1)
totals = ui.query("overview_totals", chosen).iloc[0]
top_track = ui.query("top_tracks", first)
top_artist = ui.query("top_artists", first)
top_album = ui.query("top_albums", first)
biggest_day = ui.query("biggest_day", chosen)
busiest_hour = ui.query("busiest_hour", chosen)
longest_session = ui.query("longest_sessions", first)
streaks = ui.query("streaks", chosen)

minutes = float(totals["minutes_played"])
headline = st.columns(3)
headline[0].metric(
    "Minutes listened", ui.count_text(minutes), help=ui.minutes_text(minutes), border=True
)
headline[1].metric("Plays", ui.count_text(totals["plays"]), border=True)
headline[2].metric("Days with plays", ui.count_text(totals["active_days"]), border=True)


def top_card(title: str, name: str, detail: str) -> None:
    """One of the 'top' cards: the name big, the artist and the plays small."""
    with st.container(border=True):
        st.caption(title)
        st.markdown(f"### {ui.markdown_text(name)}")
        st.caption(ui.markdown_text(detail))


tops = st.columns(3)
with tops[0]:
    if len(top_track):
        row = top_track.iloc[0]
        top_card(
            "Top track", str(row["track_name"]),
            f"{row['artist_name']} · {int(row['plays']):,} plays",
        )  # fmt: skip
with tops[1]:
    if len(top_artist):
        row = top_artist.iloc[0]
        top_card(
            "Top artist", str(row["artist_name"]),
            f"{int(row['plays']):,} plays · {ui.minutes_text(row['minutes_played'])}",
        )  # fmt: skip
with tops[2]:
    if len(top_album):
        row = top_album.iloc[0]
        top_card(
            "Top album", str(row["album_name"]),
            f"{row['artist_name']} · {int(row['plays']):,} plays",
        )  # fmt: skip

moments = st.columns(4)
if len(biggest_day):
    day = biggest_day.iloc[0]
    moments[0].metric(
        "Biggest day", f"{day['listening_date']:%d %b %Y}",
        f"{ui.minutes_text(day['minutes_played'])}, {int(day['plays'])} plays",
        delta_color="off", delta_arrow="off", border=True,
    )  # fmt: skip
if len(longest_session):
    session = longest_session.iloc[0]
    moments[1].metric(
        "Longest session", ui.minutes_text(session["duration_minutes"]),
        f"{session['started_at_local']:%d %b, %H:%M} · {int(session['plays'])} plays",
        delta_color="off", delta_arrow="off", border=True,
    )  # fmt: skip
if len(streaks):
    streak = streaks.sort_values(
        ["days_in_range", "started_on_date"], ascending=[False, True]
    ).iloc[0]
    moments[2].metric(
        "Longest streak", ui.days_text(int(streak["days_in_range"])),
        f"from {max(streak['started_on_date'].date(), chosen.start):%d %b %Y}",
        delta_color="off", delta_arrow="off", border=True,
    )  # fmt: skip
if len(busiest_hour):
    hour = busiest_hour.iloc[0]
    moments[3].metric(
        "Busiest hour", ui.hour_text(int(hour["hour_of_day"])),
        f"{ui.minutes_text(hour['minutes_played'])} in all",
        delta_color="off", delta_arrow="off", border=True,
    )  # fmt: skip

discoveries = st.columns(2)
discoveries[0].metric("New tracks discovered", ui.count_text(totals["new_tracks"]), border=True)
discoveries[1].metric("New artists discovered", ui.count_text(totals["new_artists"]), border=True)

st.subheader("Day by day")
st.altair_chart(
    charts.listening_over_time(ui.query("daily_listening", chosen), height=180), width="stretch"
)

top_five = replace(chosen, limit=5)
lists = st.columns(2)
for column, title, name, label in (
    (lists[0], "Top tracks", "top_tracks", "track_name"),
    (lists[1], "Top artists", "top_artists", "artist_name"),
):
    with column, st.container(border=True):
        st.subheader(title)
        for row in ui.query(name, top_five).itertuples():
            by = f" · {ui.markdown_text(row.artist_name)}" if label == "track_name" else ""
            st.markdown(f"**{row.rank}.** {ui.markdown_text(getattr(row, label))}{by}")
