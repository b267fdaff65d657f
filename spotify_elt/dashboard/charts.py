"""The dashboard's charts (Altair, drawn by Vega in the browser; nothing loaded from outside)."""

from __future__ import annotations

import altair as alt
import pandas as pd  # type: ignore[import-untyped]

GREEN = "#1DB954"  # Spotify's green
CONTENT_COLOURS = {"Music": GREEN, "Podcasts": "#509BF5", "Audiobooks": "#F59B23"}
DAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
# Bars per day stay readable up to about this many days; beyond, weeks.
MOST_DAILY_BARS = 120


def _content_long(frame: pd.DataFrame, when: str) -> pd.DataFrame:
    columns = {
        "track_minutes": "Music",
        "episode_minutes": "Podcasts",
        "audiobook_minutes": "Audiobooks",
    }
    long = frame.melt(
        id_vars=[when], value_vars=list(columns), var_name="content", value_name="minutes"
    )
    long["content"] = long["content"].map(columns)
    return long[long["minutes"] > 0]


def _content_colour() -> alt.Color:
    return alt.Color(
        "content:N",
        title=None,
        scale=alt.Scale(domain=list(CONTENT_COLOURS), range=list(CONTENT_COLOURS.values())),
        legend=alt.Legend(orient="top"),
    )


def listening_over_time(daily: pd.DataFrame, height: int = 320) -> alt.Chart:
    """Minutes per day (per week for long ranges), stacked by music, podcasts, audiobooks."""
    frame = daily.copy()
    if (
        len(frame)
        and (frame["listening_date"].max() - frame["listening_date"].min()).days > MOST_DAILY_BARS
    ):
        frame["listening_date"] = frame["listening_date"].dt.to_period("W-SUN").dt.start_time
        frame = frame.groupby("listening_date", as_index=False)[
            ["track_minutes", "episode_minutes", "audiobook_minutes"]
        ].sum()
        title = "Week of"
    else:
        title = "Day"
    long = _content_long(frame, "listening_date")
    chart: alt.Chart = (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("yearmonthdate(listening_date):T", title=title),
            y=alt.Y("sum(minutes):Q", title="Minutes"),
            color=_content_colour(),
            tooltip=[
                alt.Tooltip("yearmonthdate(listening_date):T", title=title),
                alt.Tooltip("content:N", title="Content"),
                alt.Tooltip("sum(minutes):Q", title="Minutes", format=",.0f"),
            ],
        )
        .properties(height=height)
    )
    return chart


def content_split(totals: pd.Series) -> alt.Chart:
    """A donut of minutes by content type (its legend is the one of `listening_over_time`)."""
    frame = pd.DataFrame(
        {
            "content": list(CONTENT_COLOURS),
            "minutes": [
                float(totals["track_minutes"]),
                float(totals["episode_minutes"]),
                float(totals["audiobook_minutes"]),
            ],
        }
    )
    frame = frame[frame["minutes"] > 0]
    chart: alt.Chart = (
        alt.Chart(frame)
        .mark_arc(innerRadius=60)
        .encode(
            theta=alt.Theta("minutes:Q"),
            color=_content_colour().legend(None),
            tooltip=[
                alt.Tooltip("content:N", title="Content"),
                alt.Tooltip("minutes:Q", title="Minutes", format=",.0f"),
            ],
        )
        .properties(height=280)
    )
    return chart


def ranking(frame: pd.DataFrame, label: str, metric: str, title: str) -> alt.Chart:
    """Horizontal bars, the first ranked on top."""
    # Numbered: two tracks may share a name, and Vega would stack them into one bar.
    names = frame[label].fillna("(unknown)").astype(str)
    data = frame.assign(
        item=[f"{rank}. {name}" for rank, name in zip(frame["rank"], names, strict=True)]
    )
    chart: alt.Chart = (
        alt.Chart(data)
        .mark_bar(color=GREEN, cornerRadiusEnd=3)
        .encode(
            x=alt.X(f"{metric}:Q", title=title),
            y=alt.Y("item:N", title=None, sort=alt.SortField("rank", order="ascending")),
            tooltip=[
                alt.Tooltip("item:N", title=label.replace("_", " ").capitalize()),
                alt.Tooltip("plays:Q", title="Plays", format=","),
                alt.Tooltip("minutes_played:Q", title="Minutes", format=",.0f"),
            ],
        )
        .properties(height=max(28 * len(data), 120))
    )
    return chart


def heatmap(hourly: pd.DataFrame) -> alt.Chart:
    """Minutes by day of the week and local hour."""
    data = hourly.assign(day=hourly["day_of_week"].map(lambda day: DAY_NAMES[int(day) - 1]))
    chart: alt.Chart = (
        alt.Chart(data)
        .mark_rect(cornerRadius=2)
        .encode(
            x=alt.X(
                "hour_of_day:O",
                title="Hour of the day (local time)",
                scale=alt.Scale(domain=list(range(24))),
                axis=alt.Axis(labelAngle=0),
            ),
            y=alt.Y("day:O", title=None, scale=alt.Scale(domain=DAY_NAMES)),
            color=alt.Color("minutes_played:Q", title="Minutes", scale=alt.Scale(scheme="greens")),
            tooltip=[
                alt.Tooltip("day:O", title="Day"),
                alt.Tooltip("hour_of_day:O", title="Hour"),
                alt.Tooltip("plays:Q", title="Plays", format=","),
                alt.Tooltip("minutes_played:Q", title="Minutes", format=",.0f"),
            ],
        )
        .properties(height=260)
    )
    return chart


def bars(
    frame: pd.DataFrame, x: str, y: str, x_title: str, y_title: str, sort: list[str] | None = None
) -> alt.Chart:
    """Plain vertical bars (`x` ordinal, `y` quantitative)."""
    chart: alt.Chart = (
        alt.Chart(frame)
        .mark_bar(color=GREEN, cornerRadiusEnd=3)
        .encode(
            x=alt.X(f"{x}:O", title=x_title, sort=sort, axis=alt.Axis(labelAngle=0)),
            y=alt.Y(f"{y}:Q", title=y_title),
            tooltip=[
                alt.Tooltip(f"{x}:O", title=x_title),
                alt.Tooltip(f"{y}:Q", title=y_title, format=",.0f"),
            ],
        )
        .properties(height=260)
    )
    return chart


def monthly(frame: pd.DataFrame) -> alt.Chart:
    """Minutes per calendar month, by content type."""
    long = _content_long(frame, "month_start")
    chart: alt.Chart = (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("yearmonth(month_start):O", title="Month"),
            y=alt.Y("sum(minutes):Q", title="Minutes"),
            color=_content_colour(),
            tooltip=[
                alt.Tooltip("yearmonth(month_start):O", title="Month"),
                alt.Tooltip("content:N", title="Content"),
                alt.Tooltip("sum(minutes):Q", title="Minutes", format=",.0f"),
            ],
        )
        .properties(height=260)
    )
    return chart


def streak_timeline(streaks: pd.DataFrame) -> alt.Chart:
    """Every streak as a bar from its first to its last day."""
    data = streaks.assign(
        until=streaks["ended_on_date"] + pd.Timedelta(days=1),
        kind=streaks["is_latest"].map({True: "Latest streak", False: "Streak"}),
    )
    chart: alt.Chart = (
        alt.Chart(data)
        .mark_bar(height=26, cornerRadius=3)
        .encode(
            x=alt.X("started_on_date:T", title=None),
            x2="until:T",
            color=alt.Color(
                "kind:N",
                title=None,
                scale=alt.Scale(domain=["Streak", "Latest streak"], range=["#5E8C6A", GREEN]),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("started_on_date:T", title="From"),
                alt.Tooltip("ended_on_date:T", title="To"),
                alt.Tooltip("days:Q", title="Days"),
                alt.Tooltip("plays:Q", title="Plays", format=","),
            ],
        )
        .properties(height=90)
    )
    return chart


def weekly_discoveries(weekly: pd.DataFrame) -> alt.LayerChart:
    """New tracks and new artists per week (bars), and the share of tracks that was new (line)."""
    # Weeks without music have no row: show them as weeks with nothing new, not as no week.
    if len(weekly):
        weeks = pd.date_range(
            weekly["week_start_date"].min(), weekly["week_start_date"].max(), freq="7D"
        )
        weekly = (
            weekly.set_index("week_start_date")
            .reindex(weeks)
            .rename_axis("week_start_date")
            .reset_index()
            .fillna({"new_tracks": 0, "new_artists": 0})
        )
    long = weekly.melt(
        id_vars=["week_start_date"], value_vars=["new_tracks", "new_artists"],
        var_name="kind", value_name="count",
    )  # fmt: skip
    long["kind"] = long["kind"].map({"new_tracks": "New tracks", "new_artists": "New artists"})
    bars_layer = (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("yearmonthdate(week_start_date):O", title="Week of"),
            xOffset="kind:N",
            y=alt.Y("count:Q", title="New this week"),
            color=alt.Color(
                "kind:N",
                title=None,
                scale=alt.Scale(domain=["New tracks", "New artists"], range=[GREEN, "#509BF5"]),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("yearmonthdate(week_start_date):O", title="Week of"),
                alt.Tooltip("kind:N", title="What"),
                alt.Tooltip("count:Q", title="Count", format=","),
            ],
        )
    )
    share = (
        alt.Chart(weekly)
        .mark_line(point=True, color="#F59B23")
        .encode(
            x=alt.X("yearmonthdate(week_start_date):O"),
            y=alt.Y(
                "track_discovery_rate:Q", title="Share of tracks new", axis=alt.Axis(format="%")
            ),
            tooltip=[
                alt.Tooltip("yearmonthdate(week_start_date):O", title="Week of"),
                alt.Tooltip("track_discovery_rate:Q", title="Tracks new", format=".0%"),
            ],
        )
    )
    layered: alt.LayerChart = alt.layer(bars_layer, share).resolve_scale(y="independent")
    return layered.properties(height=300)
