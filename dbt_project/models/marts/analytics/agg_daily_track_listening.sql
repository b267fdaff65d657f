{#- Grain: one row per listener, local day and track played that day (music only). Sum it over
    any range of days for top tracks, or by `album_sk` for top albums. Incremental over
    (listener, local day) windows (macros/analytics.sql). -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['user_sk', 'date_key', 'track_sk'],
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
    where
        plays.content_type = 'track'
    {%- if spotify_elt.is_incremental_run() %}
        and {{ spotify_elt.in_windows('plays') }}
        {%- endif %}

),

grouped as (

    select
        user_sk,
        user_id,
        date_key,
        listening_date,
        track_sk,
        album_sk,
        count(*) as plays,
        sum(counted_streams) as counted_streams,
        sum(ms_played) as ms_played,
        coalesce(sum(skipped_plays), 0) as skipped_plays
    from plays
    group by user_sk, user_id, date_key, listening_date, track_sk, album_sk

),

final as (

    select
        {{ spotify_elt.cast_to_contract('user_sk') }},
        {{ spotify_elt.cast_to_contract('date_key') }},
        {{ spotify_elt.cast_to_contract('track_sk') }},
        {{ spotify_elt.cast_to_contract('album_sk') }},
        {{ spotify_elt.cast_to_contract('user_id') }},
        {{ spotify_elt.cast_to_contract('listening_date') }},
        {{ spotify_elt.cast_to_contract('plays') }},
        {{ spotify_elt.cast_to_contract('counted_streams') }},
        {{ spotify_elt.cast_to_contract('ms_played') }},
        {{ spotify_elt.minutes('ms_played') }} as minutes_played,
        {{ spotify_elt.cast_to_contract('skipped_plays') }},
        {{ spotify_elt.run_timestamp() }} as transformed_at
    from grouped

)

select * from final
