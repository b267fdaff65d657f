{#- Grain: one row per listening session of one listener, keyed by its first play. A play runs from `played_at` minus
    `ms_played` to `played_at`; a session ends when the next play starts more than
    `session_gap_minutes` (var, default 30) after the previous one ended. Gaps are measured in
    UTC, so a DST change never splits or joins a session, and its length is real time. Podcasts
    and audiobooks belong to sessions too. Incremental: a run deletes each listener's sessions
    from shortly before their earliest changed day (macros/analytics.sql) and sessions the plays
    after the last session that remains. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='session_sk',
        pre_hook="{{ spotify_elt.delete_sessions_from_windows() }}",
    )
}}
-- depends_on: {{ ref('fct_plays') }}
{%- set gap_ms = (var('session_gap_minutes') | int) * 60000 %}

{#- One sort: every window below shares `partition by user_id order by played_at, play_sk`. -#}
{%- set in_order = 'partition by user_id order by played_at, play_sk' %}

with

{%- if spotify_elt.is_incremental_run() %}

remaining as (

    select
        user_id,
        max(ended_at) as last_ended_at,
        max(session_number) as sessions
    from {{ this }}
    group by user_id

),

{%- endif %}

plays as (

    select
        plays.play_sk,
        plays.user_sk,
        plays.user_id,
        plays.played_at,
        plays.played_at_local,
        plays.content_type,
        plays.track_sk,
        plays.ms_played,
        plays.skipped_plays,
        {{ spotify_elt.minus_milliseconds('plays.played_at', 'plays.ms_played') }} as started_at,
        {{ spotify_elt.minus_milliseconds('plays.played_at_local', 'plays.ms_played') }} as started_at_local,
        {%- if spotify_elt.is_incremental_run() %}
        coalesce(remaining.sessions, 0) as earlier_sessions
        {%- else %}
            0 as earlier_sessions
        {%- endif %}
    from {{ ref('analytics_plays_dated') }} as plays
    {%- if spotify_elt.is_incremental_run() %}
    left join remaining
        on plays.user_id = remaining.user_id
    where remaining.last_ended_at is null or plays.played_at > remaining.last_ended_at
    {%- endif %}

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
        earlier_sessions
        + sum(starts_session) over ({{ in_order }} rows between unbounded preceding and current row)
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
        {{ spotify_elt.cast_to_contract('user_sk') }},
        {{ spotify_elt.cast_to_contract('date_key', spotify_elt.date_key('started_at_local')) }},
        {{ spotify_elt.cast_to_contract('user_id') }},
        {{ spotify_elt.cast_to_contract('session_number') }},
        {{ spotify_elt.cast_to_contract('started_at') }},
        {{ spotify_elt.cast_to_contract('ended_at') }},
        {{ spotify_elt.cast_to_contract('started_at_local') }},
        {{ spotify_elt.cast_to_contract('ended_at_local') }},
        {{ spotify_elt.minutes(spotify_elt.milliseconds_between('started_at', 'ended_at')) }} as duration_minutes,
        {{ spotify_elt.cast_to_contract('plays') }},
        {{ spotify_elt.cast_to_contract('distinct_tracks') }},
        {{ spotify_elt.cast_to_contract('ms_played') }},
        {{ spotify_elt.minutes('ms_played') }} as minutes_played,
        {{ spotify_elt.cast_to_contract('skipped_plays') }},
        {{ spotify_elt.run_timestamp() }} as transformed_at
    from sessions

)

select * from final
