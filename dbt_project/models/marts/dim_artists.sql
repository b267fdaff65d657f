{#- One row per artist credited on a played track or as an album's main artist. Local artists
    have no id; their key is their name. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='artist_sk',
        pre_hook="{{ spotify_elt.delete_export_members() }}",
    )
}}

with track_artists as (

    select
        artist_sk,
        artist_id,
        artist_name,
        played_at,
        loaded_at
    from {{ ref('int_track_artists_unnested') }}
    {{ spotify_elt.where_loaded_since_last_run() }}

),

album_artists as (

    select
        album_artist_sk as artist_sk,
        album_artist_id as artist_id,
        album_artist_name as artist_name,
        album_id,
        played_at,
        loaded_at
    from {{ ref('int_plays_keyed') }}
    {{ spotify_elt.where_loaded_since_last_run() }}

),

-- All of them, every run (macros/incremental.sql, delete_export_members).
export_artists as (

    select * from {{ ref('int_export_plays') }}

),

credited as (

    select
        *,
        'api' as known_from
    from track_artists
    union all
    select
        artist_sk,
        artist_id,
        artist_name,
        played_at,
        loaded_at,
        'api' as known_from
    from album_artists
    where album_id is not null and artist_id is not null
    union all
    -- An artist known only from the export has a name and is keyed by it, like a local one.
    select
        artist_sk,
        cast(null as {{ spotify_elt.type_text() }}) as artist_id,
        artist_name,
        ended_at as played_at,
        loaded_at,
        'export' as known_from
    from export_artists
    where content_type = 'track' and is_known_to_api = 0

),

latest as (

    select
        *,
        row_number() over (
            partition by artist_sk
            order by {{ spotify_elt.source_rank('known_from') }}, played_at desc, loaded_at desc, artist_name asc
        ) as recency
    from credited
    where artist_sk <> {{ spotify_elt.unknown_key() }}

),

artists as (

    select
        {{ spotify_elt.cast_to_contract('artist_sk') }},
        {{ spotify_elt.cast_to_contract('artist_id') }},
        {{ spotify_elt.cast_to_contract('artist_name') }},
        {{ spotify_elt.cast_to_contract('known_from') }},
        {{ spotify_elt.cast_to_contract('last_played_at', 'played_at') }},
        {{ spotify_elt.cast_to_contract('loaded_at') }}
    from latest
    where recency = 1

),

newer as (

    {{ spotify_elt.newer_than_current('artists', 'artist_sk', by_source=true) }}

),

unknown_member as (

    {{ spotify_elt.unknown_member({'artist_name': 'Unknown artist'}) }}

),

final as (

    select * from newer
    union all
    select * from unknown_member

)

select * from final
