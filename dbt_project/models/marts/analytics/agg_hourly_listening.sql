{#- Grain: one row per listener, local day and local hour with plays. The hour-of-day by weekday
    heatmap is this table summed by (day_of_week, hour_of_day) over a range of days. On the night
    a DST change repeats an hour, both of its hours are one row. -#}
with plays as (

    select * from {{ ref('int_plays_dated') }}

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
        {{ spotify_elt.minutes('ms_played') }} as minutes_played
    from grouped

)

select * from final
