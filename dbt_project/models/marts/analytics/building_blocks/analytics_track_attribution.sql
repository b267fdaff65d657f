{#- How every track is attributed, as the analytics marts last saw it: its album and its credited
    artists in order. A track's rows are written again, with a new `transformed_at`, only when
    that changed, so the incremental analytics marts (macros/analytics.sql) redo just the days the
    track was played on. This happens when the API first plays a track known until then only from
    the privacy export (its album and all its artists become known), or when Spotify changes a
    track's credits. A table of its own because the marts' rows do not keep a track's credits. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='track_sk',
    )
}}

with tracks as (

    select
        track_sk,
        album_sk
    from {{ ref('dim_tracks') }}

),

credits as (

    select
        track_sk,
        artist_sk,
        artist_position
    from {{ ref('bridge_track_artists') }}

),

attribution as (

    select
        tracks.track_sk,
        tracks.album_sk,
        credits.artist_sk,
        credits.artist_position
    from tracks
    left join credits
        on tracks.track_sk = credits.track_sk

),

{%- if spotify_elt.is_incremental_run() %}
{%- set attribution_columns = 'track_sk, album_sk, artist_sk, artist_position' %}

-- Set differences compare nulls as equal: a track without credits is unchanged.
changed_tracks as (

    select added.track_sk
    from (
        select {{ attribution_columns }}
        from attribution
        except
        select {{ attribution_columns }}
        from {{ this }}
    ) as added
    union
    select removed.track_sk
    from (
        select {{ attribution_columns }}
        from {{ this }}
        except
        select {{ attribution_columns }}
        from attribution
    ) as removed

),

{%- endif %}

final as (

    select
        cast(track_sk as {{ spotify_elt.type_key() }}) as track_sk,
        cast(album_sk as {{ spotify_elt.type_key() }}) as album_sk,
        cast(artist_sk as {{ spotify_elt.type_key() }}) as artist_sk,
        cast(artist_position as {{ spotify_elt.type_integer() }}) as artist_position,
        {{ spotify_elt.run_timestamp() }} as transformed_at
    from attribution
    {%- if spotify_elt.is_incremental_run() %}
    where track_sk in (select changed_tracks.track_sk from changed_tracks)
    {%- endif %}

)

select * from final
