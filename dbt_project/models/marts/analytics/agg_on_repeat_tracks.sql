{#- Grain: one row per listener and track on their "On repeat" list: the tracks with the most
    counted streams (at least two) in the last `recent_days` (var, default 30) before the
    listener's latest play, up to `track_list_size` (var, default 30) of them. Measured from the
    latest play, not from today, so the list is what the data says and a paused listener keeps
    theirs. -#}
{%- set window_start = dbt.dateadd('day', -(var('recent_days') | int), 'latest.latest_played_at_local') %}

with plays as (

    select * from {{ ref('analytics_plays_dated') }}

),

latest as (

    select
        user_id,
        max(played_at_local) as latest_played_at_local
    from plays
    group by user_id

),

recent_streams as (

    select
        plays.user_sk,
        plays.user_id,
        plays.track_sk,
        plays.ms_played,
        plays.played_at_local,
        latest.latest_played_at_local
    from plays
    inner join latest
        on plays.user_id = latest.user_id
    where
        plays.content_type = 'track'
        and plays.counted_streams = 1
        and plays.track_sk <> {{ spotify_elt.unknown_key() }}
        and plays.played_at_local > {{ window_start }}

),

tracks as (

    select
        user_sk,
        user_id,
        track_sk,
        count(*) as plays,
        sum(ms_played) as ms_played,
        max(played_at_local) as last_played_at_local,
        max(latest_played_at_local) as latest_played_at_local
    from recent_streams
    group by user_sk, user_id, track_sk
    having count(*) >= 2

),

ranked as (

    select
        *,
        row_number() over (
            partition by user_id order by plays desc, ms_played desc, last_played_at_local desc, track_sk asc
        ) as list_rank
    from tracks

),

final as (

    select
        {{ spotify_elt.cast_to_contract('user_sk') }},
        {{ spotify_elt.cast_to_contract('track_sk') }},
        {{ spotify_elt.cast_to_contract('user_id') }},
        {{ spotify_elt.cast_to_contract('list_rank') }},
        {{ spotify_elt.cast_to_contract('plays') }},
        {{ spotify_elt.minutes('ms_played') }} as minutes_played,
        {{ spotify_elt.cast_to_contract('last_played_at_local') }},
        {{ spotify_elt.cast_to_contract('as_of_date', 'latest_played_at_local') }}
    from ranked
    where list_rank <= {{ var('track_list_size') | int }}

)

select * from final
