{#- Grain: one row per listener, local day and local hour with plays. The hour-of-day by weekday
    heatmap is this table summed by (day_of_week, hour_of_day) over a range of days. On the night
    a DST change repeats an hour, both of its hours are one row. Incremental over (listener,
    local day) windows (macros/analytics.sql). -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['user_sk', 'date_key', 'hour_of_day'],
        pre_hook="{{ spotify_elt.delete_analytics_windows(with_attribution=false) }}",
    )
}}
-- depends_on: {{ ref('fct_plays') }}

with

{%- if spotify_elt.is_incremental_run() %}

windows as (

    {{ spotify_elt.analytics_windows(with_attribution=false) }}

),

{%- endif %}

plays as (

    select plays.* from {{ ref('analytics_plays_dated') }} as plays
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
        hour_of_day,
        count(*) as plays,
        sum(ms_played) as ms_played
    from plays
    group by user_sk, user_id, date_key, listening_date, hour_of_day

),

final as (

    select
        cast(user_sk as {{ spotify_elt.type_key() }}) as user_sk,
        cast(date_key as {{ spotify_elt.type_integer() }}) as date_key,
        cast(user_id as {{ spotify_elt.type_text() }}) as user_id,
        cast(listening_date as {{ spotify_elt.type_date() }}) as listening_date,
        cast({{ spotify_elt.iso_day_of_week('listening_date') }} as {{ spotify_elt.type_integer() }}) as day_of_week,
        cast(hour_of_day as {{ spotify_elt.type_integer() }}) as hour_of_day,
        cast(plays as {{ spotify_elt.type_integer() }}) as plays,
        cast(ms_played as {{ spotify_elt.type_bigint() }}) as ms_played,
        {{ spotify_elt.minutes('ms_played') }} as minutes_played,
        {{ spotify_elt.run_timestamp() }} as transformed_at
    from grouped

)

select * from final
