{#- Grain: one row per listener, local day and artist credited on a track played that day.
    A play counts once for each of its track's artists, so the artists' plays add up to more
    than the day's plays when duets were played. Incremental over (listener, local day)
    windows (macros/analytics.sql). -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['user_sk', 'date_key', 'artist_sk'],
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

artist_plays as (

    select plays.* from {{ ref('analytics_artist_plays_credited') }} as plays
    {%- if spotify_elt.is_incremental_run() %}
    where {{ spotify_elt.in_windows('plays') }}
    {%- endif %}

),

grouped as (

    select
        user_sk,
        user_id,
        date_key,
        listening_date,
        artist_sk,
        count(*) as plays,
        sum(counted_streams) as counted_streams,
        sum(ms_played) as ms_played
    from artist_plays
    group by user_sk, user_id, date_key, listening_date, artist_sk

),

final as (

    select
        {{ spotify_elt.cast_to_contract('user_sk') }},
        {{ spotify_elt.cast_to_contract('date_key') }},
        {{ spotify_elt.cast_to_contract('artist_sk') }},
        {{ spotify_elt.cast_to_contract('user_id') }},
        {{ spotify_elt.cast_to_contract('listening_date') }},
        {{ spotify_elt.cast_to_contract('plays') }},
        {{ spotify_elt.cast_to_contract('counted_streams') }},
        {{ spotify_elt.cast_to_contract('ms_played') }},
        {{ spotify_elt.minutes('ms_played') }} as minutes_played,
        {{ spotify_elt.run_timestamp() }} as transformed_at
    from grouped

)

select * from final
