{#- Every play is counted once, with its time, in each analytics mart that covers all plays:
    per listener, the plays and milliseconds of fct_plays equal those of the daily, hourly and
    session marts, and its music plays those of the daily track mart. -#}
with plays as (

    select
        user_id,
        count(*) as plays,
        sum(ms_played) as ms_played,
        sum(case when content_type = 'track' then 1 else 0 end) as track_plays,
        sum(case when content_type = 'track' then ms_played else 0 end) as track_ms_played
    from {{ ref('fct_plays') }}
    group by user_id

),

marts as (

    select
        'agg_daily_listening' as mart,
        user_id,
        sum(plays) as plays,
        sum(ms_played) as ms_played
    from {{ ref('agg_daily_listening') }}
    group by user_id
    union all
    select
        'agg_hourly_listening' as mart,
        user_id,
        sum(plays) as plays,
        sum(ms_played) as ms_played
    from {{ ref('agg_hourly_listening') }}
    group by user_id
    union all
    select
        'fct_listening_sessions' as mart,
        user_id,
        sum(plays) as plays,
        sum(ms_played) as ms_played
    from {{ ref('fct_listening_sessions') }}
    group by user_id
    union all
    select
        'agg_daily_track_listening' as mart,
        user_id,
        sum(plays) as plays,
        sum(ms_played) as ms_played
    from {{ ref('agg_daily_track_listening') }}
    group by user_id

),

mart_names as (

    select listed.mart
    from (
        values
        ('agg_daily_listening'),
        ('agg_hourly_listening'),
        ('fct_listening_sessions'),
        ('agg_daily_track_listening')
    ) as listed (mart)

),

compared as (

    select
        mart_names.mart,
        plays.user_id,
        -- The track mart holds music only.
        case when mart_names.mart = 'agg_daily_track_listening' then plays.track_plays else plays.plays end
            as expected_plays,
        marts.plays as mart_plays,
        case when mart_names.mart = 'agg_daily_track_listening' then plays.track_ms_played else plays.ms_played end
            as expected_ms_played,
        marts.ms_played as mart_ms_played
    from plays
    cross join mart_names
    left join marts
        on plays.user_id = marts.user_id and mart_names.mart = marts.mart

)

select * from compared
where
    mart_plays is null
    or expected_plays <> mart_plays
    or expected_ms_played <> mart_ms_played
