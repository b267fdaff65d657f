{#- Grain: one row per listener and local day with at least one play. Skips are known only for
    plays the privacy export describes (`plays_with_skip_data`); the API does not report them.
    The day's discoveries are fct_discoveries' rows of that date_key: a discovery moves when an
    earlier play arrives, and a count of them here would go stale on the day it left. Incremental
    over (listener, local day) windows (macros/analytics.sql). -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['user_sk', 'date_key'],
        pre_hook="{{ spotify_elt.delete_analytics_windows() }}",
    )
}}
-- depends_on: {{ ref('fct_plays') }}
-- depends_on: {{ ref('analytics_track_attribution') }}

with

{%- if spotify_elt.is_incremental_run() %}

windows as (

    {{ spotify_elt.analytics_windows() }}

),

{%- endif %}

plays as (

    select plays.* from {{ ref('analytics_plays_dated') }} as plays
    {%- if spotify_elt.is_incremental_run() %}
    where {{ spotify_elt.in_windows('plays') }}
    {%- endif %}

),

-- The daily track and artist marts are up to date for these windows: they run first.
track_days as (

    select track_days.* from {{ ref('agg_daily_track_listening') }} as track_days
    {%- if spotify_elt.is_incremental_run() %}
    where {{ spotify_elt.in_windows('track_days') }}
    {%- endif %}

),

artist_days as (

    select artist_days.* from {{ ref('agg_daily_artist_listening') }} as artist_days
    where
        artist_days.artist_sk <> {{ spotify_elt.unknown_key() }}
    {%- if spotify_elt.is_incremental_run() %}
        and {{ spotify_elt.in_windows('artist_days') }}
        {%- endif %}

),

days as (

    select
        user_sk,
        user_id,
        date_key,
        listening_date,
        count(*) as plays,
        sum(counted_streams) as counted_streams,
        sum(ms_played) as ms_played,
        sum(case when content_type = 'track' then 1 else 0 end) as track_plays,
        sum(case when content_type = 'episode' then 1 else 0 end) as episode_plays,
        sum(case when content_type = 'audiobook' then 1 else 0 end) as audiobook_plays,
        sum(case when content_type = 'track' then ms_played else 0 end) as track_ms_played,
        sum(case when content_type = 'episode' then ms_played else 0 end) as episode_ms_played,
        sum(case when content_type = 'audiobook' then ms_played else 0 end) as audiobook_ms_played,
        count(skipped_plays) as plays_with_skip_data,
        coalesce(sum(skipped_plays), 0) as skipped_plays
    from plays
    group by user_sk, user_id, date_key, listening_date

),

tracks as (

    select
        user_id,
        date_key,
        count(*) as distinct_tracks
    from track_days
    group by user_id, date_key

),

artists as (

    select
        user_id,
        date_key,
        count(*) as distinct_artists
    from artist_days
    group by user_id, date_key

),

final as (

    select
        cast(days.user_sk as {{ spotify_elt.type_key() }}) as user_sk,
        cast(days.date_key as {{ spotify_elt.type_integer() }}) as date_key,
        cast(days.user_id as {{ spotify_elt.type_text() }}) as user_id,
        cast(days.listening_date as {{ spotify_elt.type_date() }}) as listening_date,
        cast(days.plays as {{ spotify_elt.type_integer() }}) as plays,
        cast(days.counted_streams as {{ spotify_elt.type_integer() }}) as counted_streams,
        cast(days.ms_played as {{ spotify_elt.type_bigint() }}) as ms_played,
        {{ spotify_elt.minutes('days.ms_played') }} as minutes_played,
        cast(coalesce(tracks.distinct_tracks, 0) as {{ spotify_elt.type_integer() }}) as distinct_tracks,
        cast(coalesce(artists.distinct_artists, 0) as {{ spotify_elt.type_integer() }}) as distinct_artists,
        cast(days.track_plays as {{ spotify_elt.type_integer() }}) as track_plays,
        cast(days.episode_plays as {{ spotify_elt.type_integer() }}) as episode_plays,
        cast(days.audiobook_plays as {{ spotify_elt.type_integer() }}) as audiobook_plays,
        {{ spotify_elt.minutes('days.track_ms_played') }} as track_minutes,
        {{ spotify_elt.minutes('days.episode_ms_played') }} as episode_minutes,
        {{ spotify_elt.minutes('days.audiobook_ms_played') }} as audiobook_minutes,
        cast(days.plays_with_skip_data as {{ spotify_elt.type_integer() }}) as plays_with_skip_data,
        cast(days.skipped_plays as {{ spotify_elt.type_integer() }}) as skipped_plays,
        {{ spotify_elt.share('days.skipped_plays', 'days.plays_with_skip_data') }} as skip_rate,
        {{ spotify_elt.run_timestamp() }} as transformed_at
    from days
    left join tracks
        on days.user_id = tracks.user_id and days.date_key = tracks.date_key
    left join artists
        on days.user_id = artists.user_id and days.date_key = artists.date_key

)

select * from final
