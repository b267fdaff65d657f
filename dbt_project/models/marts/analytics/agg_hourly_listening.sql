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
        {{ spotify_elt.cast_to_contract('user_sk') }},
        {{ spotify_elt.cast_to_contract('date_key') }},
        {{ spotify_elt.cast_to_contract('user_id') }},
        {{ spotify_elt.cast_to_contract('listening_date') }},
        {{ spotify_elt.cast_to_contract('day_of_week', spotify_elt.iso_day_of_week('listening_date')) }},
        {{ spotify_elt.cast_to_contract('hour_of_day') }},
        {{ spotify_elt.cast_to_contract('plays') }},
        {{ spotify_elt.cast_to_contract('ms_played') }},
        {{ spotify_elt.minutes('ms_played') }} as minutes_played,
        {{ spotify_elt.run_timestamp() }} as transformed_at
    from grouped

)

select * from final
