{#- Every artist of every track, in Spotify's order (position 1 is the main artist). A track's
    rows are replaced together, so a changed credit list never leaves a stale position. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='track_sk',
    )
}}

with track_artists as (

    select * from {{ ref('int_track_artists_unnested') }}
    {{ spotify_elt.where_loaded_since_last_run() }}

),

latest_play as (

    select
        track_sk,
        max(played_at) as played_at
    from track_artists
    -- The unknown track has no credits of its own.
    where track_sk <> {{ spotify_elt.unknown_key() }}
    group by track_sk

),

credits as (

    select track_artists.*
    from track_artists
    inner join latest_play
        on
            track_artists.track_sk = latest_play.track_sk
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
        cast(track_sk as {{ spotify_elt.type_key() }}) as track_sk,
        cast(artist_sk as {{ spotify_elt.type_key() }}) as artist_sk,
        cast(artist_position as {{ spotify_elt.type_integer() }}) as artist_position,
        cast(played_at as {{ spotify_elt.type_timestamp() }}) as last_played_at,
        cast(loaded_at as {{ spotify_elt.type_timestamp() }}) as loaded_at
    from deduplicated
    where recency = 1

),

final as (

    {{ spotify_elt.newer_than_current('credited', 'track_sk') }}

)

select * from final
