{#- Grain: one row per run of two or more consecutive local days on which a listener had a
    counted stream of an artist (credited on the track, duets count for both). Single days are
    left out: every artist ever played would have one. Incremental: a run redoes the streaks
    of the listener and artist pairs with a day on or next to a changed window
    (macros/analytics.sql). -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='artist_streak_sk',
        pre_hook="{{ spotify_elt.delete_changed_artist_streaks() }}",
    )
}}
-- depends_on: {{ ref('fct_plays') }}
-- depends_on: {{ ref('analytics_track_attribution') }}

with

{%- if spotify_elt.is_incremental_run() %}

windows as (

    {{ spotify_elt.analytics_windows() }}

),

pairs as (

    {{ spotify_elt.artist_streak_pairs('windows') }}

),

{%- endif %}

artist_days as (

    select
        artist_days.user_sk,
        artist_days.user_id,
        artist_days.artist_sk,
        artist_days.listening_date,
        artist_days.date_key,
        artist_days.counted_streams,
        {{ spotify_elt.day_number('listening_date') }}
        - row_number()
            over (partition by artist_days.user_id, artist_days.artist_sk order by artist_days.listening_date)
            as run_key
    from {{ ref('agg_daily_artist_listening') }} as artist_days
    where
        artist_days.counted_streams > 0
        and artist_days.artist_sk <> {{ spotify_elt.unknown_key() }}
    {%- if spotify_elt.is_incremental_run() %}
        and exists (
            select 1 from pairs
            where pairs.user_id = artist_days.user_id and pairs.artist_sk = artist_days.artist_sk
        )
        {%- endif %}

),

streaks as (

    select
        user_sk,
        user_id,
        artist_sk,
        run_key,
        min(listening_date) as started_on_date,
        max(listening_date) as ended_on_date,
        min(date_key) as start_date_key,
        max(date_key) as end_date_key,
        count(*) as days,
        sum(counted_streams) as plays
    from artist_days
    group by user_sk, user_id, artist_sk, run_key
    having count(*) >= 2

),

final as (

    select
        cast(
            {{ spotify_elt.surrogate_key(['user_id', 'artist_sk', 'start_date_key']) }}
            as {{ spotify_elt.type_key() }}
        ) as artist_streak_sk,
        {{ spotify_elt.cast_to_contract('user_sk') }},
        {{ spotify_elt.cast_to_contract('artist_sk') }},
        {{ spotify_elt.cast_to_contract('start_date_key') }},
        {{ spotify_elt.cast_to_contract('end_date_key') }},
        {{ spotify_elt.cast_to_contract('user_id') }},
        {{ spotify_elt.cast_to_contract('started_on_date') }},
        {{ spotify_elt.cast_to_contract('ended_on_date') }},
        {{ spotify_elt.cast_to_contract('days') }},
        {{ spotify_elt.cast_to_contract('plays') }},
        {{ spotify_elt.run_timestamp() }} as transformed_at
    from streaks

)

select * from final
