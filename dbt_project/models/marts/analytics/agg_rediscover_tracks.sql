{#- Grain: one row per listener and track on their "Rediscover" list: tracks with at least three
    counted streams before the last `recent_days` (var, default 30), and no play at all within
    them, measured back from the listener's latest play. Most loved first, then the most
    recently played; up to `track_list_size` (var, default 30) of them. -#}
{%- set window_start = dbt.dateadd('day', -(var('recent_days') | int), 'latest.latest_played_at_local') %}

with plays as (

    select * from {{ ref('analytics_plays_dated') }}
    where content_type = 'track' and track_sk <> {{ spotify_elt.unknown_key() }}

),

latest as (

    select
        user_id,
        max(played_at_local) as latest_played_at_local
    from {{ ref('analytics_plays_dated') }}
    group by user_id

),

windowed as (

    select
        plays.*,
        latest.latest_played_at_local,
        case
            when plays.played_at_local > {{ window_start }}
                then 1
            else 0
        end as is_recent
    from plays
    inner join latest
        on plays.user_id = latest.user_id

),

tracks as (

    select
        user_sk,
        user_id,
        track_sk,
        sum(counted_streams) as plays,
        sum(case when counted_streams = 1 then ms_played else 0 end) as ms_played,
        min(case when counted_streams = 1 then played_at_local end) as first_played_at_local,
        max(case when counted_streams = 1 then played_at_local end) as last_played_at_local,
        max(latest_played_at_local) as latest_played_at_local
    from windowed
    group by user_sk, user_id, track_sk
    having sum(is_recent) = 0 and sum(counted_streams) >= 3

),

ranked as (

    select
        *,
        row_number() over (
            partition by user_id order by plays desc, last_played_at_local desc, track_sk asc
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
        {{ spotify_elt.cast_to_contract('first_played_at_local') }},
        {{ spotify_elt.cast_to_contract('last_played_at_local') }},
        {{ spotify_elt.cast_to_contract('as_of_date', 'latest_played_at_local') }}
    from ranked
    where list_rank <= {{ var('track_list_size') | int }}

)

select * from final
