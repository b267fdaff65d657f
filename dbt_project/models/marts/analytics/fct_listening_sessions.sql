{#- Grain: one row per listening session of one listener, keyed by its first play. A play runs from `played_at` minus
    `ms_played` to `played_at`; a session ends when the next play starts more than
    `session_gap_minutes` (var, default 30) after the previous one ended. Gaps are measured in
    UTC, so a DST change never splits or joins a session, and its length is real time. Podcasts
    and audiobooks belong to sessions too. -#}
{%- set gap_ms = (var('session_gap_minutes') | int) * 60000 %}

{#- One sort: every window below shares `partition by user_id order by played_at, play_sk`. -#}
{%- set in_order = 'partition by user_id order by played_at, play_sk' %}

with plays as (

    select
        play_sk,
        user_sk,
        user_id,
        played_at,
        played_at_local,
        content_type,
        track_sk,
        ms_played,
        skipped_plays,
        {{ spotify_elt.minus_milliseconds('played_at', 'ms_played') }} as started_at,
        {{ spotify_elt.minus_milliseconds('played_at_local', 'ms_played') }} as started_at_local
    from {{ ref('int_plays_dated') }}

),

neighbours as (

    select
        *,
        lag(played_at) over ({{ in_order }}) as previous_ended_at,
        lead(started_at) over ({{ in_order }}) as next_started_at
    from plays

),

gaps as (

    select
        *,
        case
            when previous_ended_at is null then 1
            when {{ spotify_elt.milliseconds_between(
                'previous_ended_at',
                'started_at',
            ) }} > {{ gap_ms }} then 1
            else 0
        end as starts_session,
        case
            when next_started_at is null then 1
            when {{ spotify_elt.milliseconds_between(
                'played_at',
                'next_started_at',
            ) }} > {{ gap_ms }} then 1
            else 0
        end as ends_session
    from neighbours

),

numbered as (

    select
        *,
        sum(starts_session) over ({{ in_order }} rows between unbounded preceding and current row)
            as session_number
    from gaps

),

-- The first and last plays in time order give the local start and end: on the night a DST
-- change repeats an hour, the wall clock is not in time order.
sessions as (

    select
        user_sk,
        user_id,
        session_number,
        max(case when starts_session = 1 then play_sk end) as first_play_sk,
        min(started_at) as started_at,
        max(played_at) as ended_at,
        max(case when starts_session = 1 then started_at_local end) as started_at_local,
        max(case when ends_session = 1 then played_at_local end) as ended_at_local,
        count(*) as plays,
        count(distinct case when content_type = 'track' then track_sk end) as distinct_tracks,
        sum(ms_played) as ms_played,
        coalesce(sum(skipped_plays), 0) as skipped_plays
    from numbered
    group by user_sk, user_id, session_number

),

final as (

    select
        cast(
            {{ spotify_elt.surrogate_key(['user_id', 'first_play_sk']) }} as {{ spotify_elt.type_key() }}
        ) as session_sk,
        cast(user_sk as {{ spotify_elt.type_key() }}) as user_sk,
        cast({{ spotify_elt.date_key('started_at_local') }} as {{ spotify_elt.type_integer() }}) as date_key,
        cast(user_id as {{ spotify_elt.type_text() }}) as user_id,
        cast(session_number as {{ spotify_elt.type_integer() }}) as session_number,
        cast(started_at as {{ spotify_elt.type_timestamp() }}) as started_at,
        cast(ended_at as {{ spotify_elt.type_timestamp() }}) as ended_at,
        cast(started_at_local as {{ spotify_elt.type_timestamp() }}) as started_at_local,
        cast(ended_at_local as {{ spotify_elt.type_timestamp() }}) as ended_at_local,
        {{ spotify_elt.minutes(spotify_elt.milliseconds_between('started_at', 'ended_at')) }} as duration_minutes,
        cast(plays as {{ spotify_elt.type_integer() }}) as plays,
        cast(distinct_tracks as {{ spotify_elt.type_integer() }}) as distinct_tracks,
        cast(ms_played as {{ spotify_elt.type_bigint() }}) as ms_played,
        {{ spotify_elt.minutes('ms_played') }} as minutes_played,
        cast(skipped_plays as {{ spotify_elt.type_integer() }}) as skipped_plays
    from sessions

)

select * from final
