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
        {{ spotify_elt.cast_to_contract('user_sk', 'days.user_sk') }},
        {{ spotify_elt.cast_to_contract('date_key', 'days.date_key') }},
        {{ spotify_elt.cast_to_contract('user_id', 'days.user_id') }},
        {{ spotify_elt.cast_to_contract('listening_date', 'days.listening_date') }},
        {{ spotify_elt.cast_to_contract('plays', 'days.plays') }},
        {{ spotify_elt.cast_to_contract('counted_streams', 'days.counted_streams') }},
        {{ spotify_elt.cast_to_contract('ms_played', 'days.ms_played') }},
        {{ spotify_elt.minutes('days.ms_played') }} as minutes_played,
        {{ spotify_elt.cast_to_contract('distinct_tracks', 'coalesce(tracks.distinct_tracks, 0)') }},
        {{ spotify_elt.cast_to_contract('distinct_artists', 'coalesce(artists.distinct_artists, 0)') }},
        {{ spotify_elt.cast_to_contract('track_plays', 'days.track_plays') }},
        {{ spotify_elt.cast_to_contract('episode_plays', 'days.episode_plays') }},
        {{ spotify_elt.cast_to_contract('audiobook_plays', 'days.audiobook_plays') }},
        {{ spotify_elt.minutes('days.track_ms_played') }} as track_minutes,
        {{ spotify_elt.minutes('days.episode_ms_played') }} as episode_minutes,
        {{ spotify_elt.minutes('days.audiobook_ms_played') }} as audiobook_minutes,
        {{ spotify_elt.cast_to_contract('plays_with_skip_data', 'days.plays_with_skip_data') }},
        {{ spotify_elt.cast_to_contract('skipped_plays', 'days.skipped_plays') }},
        {{ spotify_elt.share('days.skipped_plays', 'days.plays_with_skip_data') }} as skip_rate,
        {{ spotify_elt.run_timestamp() }} as transformed_at
    from days
    left join tracks
        on days.user_id = tracks.user_id and days.date_key = tracks.date_key
    left join artists
        on days.user_id = artists.user_id and days.date_key = artists.date_key

)

select * from final
