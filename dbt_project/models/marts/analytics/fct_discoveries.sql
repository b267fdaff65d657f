{#- Grain: one row per listener and track, and per listener and artist, at the first counted
    stream (30 s or more) of it in the warehouse: a skip is not a discovery. "First" is in UTC:
    in the hour a DST change repeats, the earlier play comes first even when its local time is
    later. The history starts with the listener's first load, so their first week finds
    everything new (agg_weekly_discoveries flags it).

    Incremental: a pre-hook deletes the discoveries dated in a changed window and those of every
    listener and item with a counted stream in one (macros/analytics.sql); the model then
    finds, from the daily marts, every listener and item with counted streams but no
    discovery, and looks for the first stream among that item's plays on its first local day
    and the next: a local date can step back a day at most (a zone's clocks going back across
    midnight), so the first stream in UTC is on one of them. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='discovery_sk',
        pre_hook="{{ spotify_elt.delete_changed_discoveries() }}",
    )
}}
-- depends_on: {{ ref('fct_plays') }}
-- depends_on: {{ ref('analytics_track_attribution') }}

with credits as (

    select
        track_sk,
        artist_sk
    from {{ ref('bridge_track_artists') }}
    where artist_position = 1

),

-- Every listener and item with a counted stream, without a discovery yet on an incremental run.
track_items as (

    select
        track_days.user_id,
        track_days.track_sk,
        min(track_days.listening_date) as first_listening_date,
        sum(track_days.counted_streams) as total_plays
    from {{ ref('agg_daily_track_listening') }} as track_days
    where
        track_days.counted_streams > 0
    {%- if spotify_elt.is_incremental_run() %}
        and not exists (
            select 1 from {{ this }} as discovered
            where
                discovered.discovery_type = 'track'
                and discovered.user_id = track_days.user_id
                and discovered.track_sk = track_days.track_sk
        )
        {%- endif %}
    group by track_days.user_id, track_days.track_sk

),

artist_items as (

    select
        artist_days.user_id,
        artist_days.artist_sk,
        min(artist_days.listening_date) as first_listening_date,
        sum(artist_days.counted_streams) as total_plays
    from {{ ref('agg_daily_artist_listening') }} as artist_days
    where
        artist_days.counted_streams > 0
        and artist_days.artist_sk <> {{ spotify_elt.unknown_key() }}
    {%- if spotify_elt.is_incremental_run() %}
        and not exists (
            select 1 from {{ this }} as discovered
            where
                discovered.discovery_type = 'artist'
                and discovered.user_id = artist_days.user_id
                and discovered.artist_sk = artist_days.artist_sk
        )
        {%- endif %}
    group by artist_days.user_id, artist_days.artist_sk

),

track_streams as (

    select
        item_plays.*,
        track_items.total_plays
    from {{ ref('analytics_plays_dated') }} as item_plays
    inner join track_items
        on
            item_plays.user_id = track_items.user_id
            and item_plays.track_sk = track_items.track_sk
            and item_plays.listening_date >= track_items.first_listening_date
            and item_plays.listening_date <= {{ dbt.dateadd('day', 1, 'track_items.first_listening_date') }}
    where item_plays.content_type = 'track' and item_plays.counted_streams = 1

),

artist_streams as (

    select
        item_plays.*,
        artist_items.total_plays
    from {{ ref('analytics_artist_plays_credited') }} as item_plays
    inner join artist_items
        on
            item_plays.user_id = artist_items.user_id
            and item_plays.artist_sk = artist_items.artist_sk
            and item_plays.listening_date >= artist_items.first_listening_date
            and item_plays.listening_date <= {{ dbt.dateadd('day', 1, 'artist_items.first_listening_date') }}
    where item_plays.counted_streams = 1

),

-- The first stream is the earliest, and of an item's streams ending in the same second or
-- minute (two offline plays of a track synced together, Account data's minutes, an artist's
-- two tracks) the one with the least play_sk, so that each item has one.
track_firsts as (

    select
        *,
        row_number() over (partition by user_id, track_sk order by played_at, play_sk) as stream_rank
    from track_streams

),

artist_firsts as (

    select
        *,
        row_number() over (partition by user_id, artist_sk order by played_at, play_sk) as stream_rank
    from artist_streams

),

first_tracks as (

    select
        'track' as discovery_type,
        track_firsts.track_sk as item_sk,
        track_firsts.play_sk,
        track_firsts.user_sk,
        track_firsts.user_id,
        track_firsts.track_sk,
        coalesce(credits.artist_sk, {{ spotify_elt.unknown_key() }}) as artist_sk,
        track_firsts.played_at,
        track_firsts.played_at_local,
        track_firsts.date_key,
        track_firsts.listening_date,
        track_firsts.total_plays
    from track_firsts
    left join credits
        on track_firsts.track_sk = credits.track_sk
    where track_firsts.stream_rank = 1

),

first_artists as (

    select
        'artist' as discovery_type,
        artist_sk as item_sk,
        play_sk,
        user_sk,
        user_id,
        track_sk,
        artist_sk,
        played_at,
        played_at_local,
        date_key,
        listening_date,
        total_plays
    from artist_firsts
    where stream_rank = 1

),

discoveries as (

    select * from first_tracks
    union all
    select * from first_artists

),

final as (

    select
        cast(
            {{ spotify_elt.surrogate_key(['user_id', 'discovery_type', 'item_sk']) }}
            as {{ spotify_elt.type_key() }}
        ) as discovery_sk,
        {{ spotify_elt.cast_to_contract('user_sk') }},
        {{ spotify_elt.cast_to_contract('track_sk') }},
        {{ spotify_elt.cast_to_contract('artist_sk') }},
        {{ spotify_elt.cast_to_contract('play_sk') }},
        {{ spotify_elt.cast_to_contract('date_key') }},
        {{ spotify_elt.cast_to_contract('user_id') }},
        {{ spotify_elt.cast_to_contract('discovery_type') }},
        {{ spotify_elt.cast_to_contract('first_played_at', 'played_at') }},
        {{ spotify_elt.cast_to_contract('first_played_at_local', 'played_at_local') }},
        {{ spotify_elt.week_start('listening_date') }} as week_start_date,
        {{ spotify_elt.cast_to_contract('total_plays') }},
        {{ spotify_elt.run_timestamp() }} as transformed_at
    from discoveries

)

select * from final
