{#- Every artist of every track, in Spotify's order (position 1 is the main artist). A track's
    rows are replaced together, so a changed credit list never leaves a stale position. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='track_sk',
        pre_hook="{{ spotify_elt.delete_export_members() }}",
    )
}}

with api_credits as (

    select * from {{ ref('int_track_artists_unnested') }}
    {{ spotify_elt.where_loaded_since_last_run() }}

),

-- All of them, every run (macros/incremental.sql, delete_export_members).
export_plays as (

    select * from {{ ref('int_export_plays') }}

),

track_artists as (

    select
        track_sk,
        artist_sk,
        artist_position,
        played_at,
        loaded_at,
        user_id,
        0 as source_rank
    from api_credits
    union all
    -- The export names one artist per track: until the API lists them all, it is the credit.
    select
        track_sk,
        artist_sk,
        1 as artist_position,
        ended_at as played_at,
        loaded_at,
        user_id,
        1 as source_rank
    from export_plays
    where content_type = 'track' and is_known_to_api = 0 and artist_sk <> {{ spotify_elt.unknown_key() }}

),

-- The credits of each track's latest play from the best source (the API's over the export's).
best_source as (

    select
        track_sk,
        min(source_rank) as source_rank
    from track_artists
    -- The unknown track has no credits of its own.
    where track_sk <> {{ spotify_elt.unknown_key() }}
    group by track_sk

),

latest_play as (

    select
        track_artists.track_sk,
        track_artists.source_rank,
        max(track_artists.played_at) as played_at
    from track_artists
    inner join best_source
        on
            track_artists.track_sk = best_source.track_sk
            and track_artists.source_rank = best_source.source_rank
    group by track_artists.track_sk, track_artists.source_rank

),

credits as (

    select track_artists.*
    from track_artists
    inner join latest_play
        on
            track_artists.track_sk = latest_play.track_sk
            and track_artists.source_rank = latest_play.source_rank
            and track_artists.played_at = latest_play.played_at

),

deduplicated as (

    select
        *,
        row_number() over (
            partition by track_sk, artist_position order by loaded_at desc, user_id asc
        ) as recency
    from credits

),

credited as (

    select
        {{ spotify_elt.cast_to_contract('track_sk') }},
        {{ spotify_elt.cast_to_contract('artist_sk') }},
        {{ spotify_elt.cast_to_contract('artist_position') }},
        {{ spotify_elt.cast_to_contract('known_from', "case when source_rank = 0 then 'api' else 'export' end") }},
        {{ spotify_elt.cast_to_contract('last_played_at', 'played_at') }},
        {{ spotify_elt.cast_to_contract('loaded_at') }}
    from deduplicated
    where recency = 1

),

final as (

    {{ spotify_elt.newer_than_current('credited', 'track_sk', by_source=true) }}

)

select * from final
