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
        cast(user_sk as {{ spotify_elt.type_key() }}) as user_sk,
        cast(date_key as {{ spotify_elt.type_integer() }}) as date_key,
        cast(track_sk as {{ spotify_elt.type_key() }}) as track_sk,
        cast(album_sk as {{ spotify_elt.type_key() }}) as album_sk,
        cast(user_id as {{ spotify_elt.type_text() }}) as user_id,
        cast(listening_date as {{ spotify_elt.type_date() }}) as listening_date,
        cast(plays as {{ spotify_elt.type_integer() }}) as plays,
        cast(counted_streams as {{ spotify_elt.type_integer() }}) as counted_streams,
        cast(ms_played as {{ spotify_elt.type_bigint() }}) as ms_played,
        {{ spotify_elt.minutes('ms_played') }} as minutes_played,
        cast(skipped_plays as {{ spotify_elt.type_integer() }}) as skipped_plays,
        {{ spotify_elt.run_timestamp() }} as transformed_at
    from grouped

)

select * from final
