{#- Grain: one row per run of consecutive local days on which a listener had at least one
    counted stream (30 s or more). Days are the listener's calendar days, so a streak runs on
    across a DST change (a 23- or 25-hour day is still one day). -#}
with listening_days as (

    select
        user_sk,
        user_id,
        listening_date,
        date_key,
        plays,
        ms_played,
        {{ spotify_elt.day_number('listening_date') }}
        - row_number() over (partition by user_id order by listening_date) as run_key
    from {{ ref('agg_daily_listening') }}
    where counted_streams > 0

),

streaks as (

    select
        user_sk,
        user_id,
        run_key,
        min(listening_date) as started_on_date,
        max(listening_date) as ended_on_date,
        min(date_key) as start_date_key,
        max(date_key) as end_date_key,
        count(*) as days,
        sum(plays) as plays,
        sum(ms_played) as ms_played
    from listening_days
    group by user_sk, user_id, run_key

),

ranked as (

    select
        *,
        row_number() over (partition by user_id order by started_on_date desc) as from_latest
    from streaks

),

final as (

    select
        cast(
            {{ spotify_elt.surrogate_key(['user_id', 'start_date_key']) }} as {{ spotify_elt.type_key() }}
        ) as streak_sk,
        {{ spotify_elt.cast_to_contract('user_sk') }},
        {{ spotify_elt.cast_to_contract('start_date_key') }},
        {{ spotify_elt.cast_to_contract('end_date_key') }},
        {{ spotify_elt.cast_to_contract('user_id') }},
        {{ spotify_elt.cast_to_contract('started_on_date') }},
        {{ spotify_elt.cast_to_contract('ended_on_date') }},
        {{ spotify_elt.cast_to_contract('days') }},
        {{ spotify_elt.cast_to_contract('plays') }},
        {{ spotify_elt.minutes('ms_played') }} as minutes_played,
        {{ spotify_elt.as_boolean('from_latest = 1') }} as is_latest
    from ranked

)

select * from final
