{#- API plays with the surrogate key of every dimension they point at. Natural keys: a track is
    its URI (local files have no id, but a stable spotify:local: URI); a local artist is its name;
    a local album is its first artist and album name, or unknown when the name is empty. -#}
with plays as (

    select * from {{ ref('stg_spotify__recently_played') }}

),

natural_keys as (

    select
        *,
        track_uri as track_key,
        case
            when album_id is not null then album_id
            when album_name <> ''
                then {{ dbt.concat(["'local:'", "coalesce(first_artist_name, '')", "':'", 'album_name']) }}
        end as album_key,
        case
            when album_id is not null then coalesce(album_artist_id, first_artist_id)
            when first_artist_id is not null then first_artist_id
            when first_artist_name <> '' then {{ dbt.concat(["'local:'", 'first_artist_name']) }}
        end as album_artist_key

    from plays

),

keyed as (

    select
        {{ spotify_elt.surrogate_key(['user_id', spotify_elt.format_iso_timestamp('played_at')]) }} as play_sk,
        {{ spotify_elt.dimension_key('user_id') }} as user_sk,
        {{ spotify_elt.dimension_key('track_key') }} as track_sk,
        {{ spotify_elt.dimension_key('album_key') }} as album_sk,
        {{ spotify_elt.dimension_key('album_artist_key') }} as album_artist_sk,
        {{ spotify_elt.dimension_key('context_uri') }} as context_sk,
        natural_keys.*
    from natural_keys

)

select * from keyed
