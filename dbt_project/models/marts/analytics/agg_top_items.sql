{#- Grain: one row per listener, calendar period (month, year, or all time) and track, album or
    artist among the period's top `top_items_limit` (var, default 50) by plays or by minutes.
    Ranks are rank(): ties share one. An artist is credited with every play of a track it is on.
    For any other range of days, sum agg_daily_track_listening or agg_daily_artist_listening. -#}
{%- set limit = var('top_items_limit') | int %}

with track_days as (

    select * from {{ ref('agg_daily_track_listening') }}

),

artist_days as (

    select * from {{ ref('agg_daily_artist_listening') }}

),

item_days as (

    select
        user_sk,
        user_id,
        listening_date,
        'track' as item_type,
        track_sk as item_sk,
        plays,
        counted_streams,
        ms_played
    from track_days
    union all
    select
        user_sk,
        user_id,
        listening_date,
        'album' as item_type,
        album_sk as item_sk,
        plays,
        counted_streams,
        ms_played
    from track_days
    union all
    select
        user_sk,
        user_id,
        listening_date,
        'artist' as item_type,
        artist_sk as item_sk,
        plays,
        counted_streams,
        ms_played
    from artist_days

),

known_item_days as (

    select * from item_days
    where item_sk <> {{ spotify_elt.unknown_key() }}

),

-- Months first: years and all time add up months, not days.
months as (

    select
        user_sk,
        user_id,
        {{ spotify_elt.month_start('listening_date') }} as period_start_date,
        item_type,
        item_sk,
        sum(plays) as plays,
        sum(counted_streams) as counted_streams,
        sum(ms_played) as ms_played
    from known_item_days
    group by user_sk, user_id, {{ spotify_elt.month_start('listening_date') }}, item_type, item_sk

),

first_days as (

    select
        user_id,
        min(listening_date) as first_listening_date
    from track_days
    group by user_id

),

years as (

    select
        user_sk,
        user_id,
        {{ spotify_elt.year_start('period_start_date') }} as period_start_date,
        item_type,
        item_sk,
        sum(plays) as plays,
        sum(counted_streams) as counted_streams,
        sum(ms_played) as ms_played
    from months
    group by user_sk, user_id, {{ spotify_elt.year_start('period_start_date') }}, item_type, item_sk

),

all_time as (

    select
        years.user_sk,
        years.user_id,
        first_days.first_listening_date as period_start_date,
        years.item_type,
        years.item_sk,
        sum(years.plays) as plays,
        sum(years.counted_streams) as counted_streams,
        sum(years.ms_played) as ms_played
    from years
    inner join first_days
        on years.user_id = first_days.user_id
    group by years.user_sk, years.user_id, first_days.first_listening_date, years.item_type, years.item_sk

),

totals as (

    select
        'month' as period_type,
        months.*
    from months
    union all
    select
        'year' as period_type,
        years.*
    from years
    union all
    select
        'all_time' as period_type,
        all_time.*
    from all_time

),

ranked as (

    select
        *,
        rank() over (
            partition by user_id, period_type, period_start_date, item_type order by plays desc
        ) as rank_by_plays,
        rank() over (
            partition by user_id, period_type, period_start_date, item_type order by ms_played desc
        ) as rank_by_minutes
    from totals

),

final as (

    select
        cast(user_sk as {{ spotify_elt.type_key() }}) as user_sk,
        cast(item_sk as {{ spotify_elt.type_key() }}) as item_sk,
        cast(user_id as {{ spotify_elt.type_text() }}) as user_id,
        cast(period_type as {{ spotify_elt.type_text() }}) as period_type,
        cast(period_start_date as {{ spotify_elt.type_date() }}) as period_start_date,
        cast(item_type as {{ spotify_elt.type_text() }}) as item_type,
        cast(plays as {{ spotify_elt.type_integer() }}) as plays,
        cast(counted_streams as {{ spotify_elt.type_integer() }}) as counted_streams,
        cast(ms_played as {{ spotify_elt.type_bigint() }}) as ms_played,
        {{ spotify_elt.minutes('ms_played') }} as minutes_played,
        cast(rank_by_plays as {{ spotify_elt.type_integer() }}) as rank_by_plays,
        cast(rank_by_minutes as {{ spotify_elt.type_integer() }}) as rank_by_minutes
    from ranked
    where rank_by_plays <= {{ limit }} or rank_by_minutes <= {{ limit }}

)

select * from final
