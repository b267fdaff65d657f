{#- Parsing a play's JSON is the costly step, so it happens once per play: this model is a table
    that takes only newly loaded plays on each run. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['user_id', 'played_at'],
    )
}}

with source as (

    select * from {{ source('spotify', 'spotify_recently_played') }}
    {{ spotify_elt.where_loaded_since_last_run('_loaded_at') }}

),

renamed as (

    select
        user_id,
        played_at,
        _batch_id as batch_id,
        _loaded_at as loaded_at,
        {{ spotify_elt.json_fields('item', [
            ['track_id', 'track.id', 'text'],
            ['track_uri', 'track.uri', 'text'],
            ['track_name', 'track.name', 'text'],
            ['track_type', 'track.type', 'text'],
            ['duration_ms', 'track.duration_ms', 'bigint'],
            ['explicit', 'track.explicit', 'boolean'],
            ['is_local', 'track.is_local', 'boolean'],
            ['isrc', 'track.external_ids.isrc', 'text'],
            ['disc_number', 'track.disc_number', 'integer'],
            ['track_number', 'track.track_number', 'integer'],
            ['first_artist_id', 'track.artists.0.id', 'text'],
            ['first_artist_name', 'track.artists.0.name', 'text'],
            ['track_artists', 'track.artists', 'json'],
            ['album_id', 'track.album.id', 'text'],
            ['album_uri', 'track.album.uri', 'text'],
            ['album_name', 'track.album.name', 'text'],
            ['album_type', 'track.album.album_type', 'text'],
            ['album_release_date', 'track.album.release_date', 'text'],
            ['album_release_date_precision', 'track.album.release_date_precision', 'text'],
            ['album_total_tracks', 'track.album.total_tracks', 'integer'],
            ['album_artist_id', 'track.album.artists.0.id', 'text'],
            ['album_artist_name', 'track.album.artists.0.name', 'text'],
            ['context_type', 'context.type', 'text'],
            ['context_uri', 'context.uri', 'text'],
        ]) }}
    from source

)

select * from renamed
