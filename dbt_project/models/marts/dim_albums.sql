{#- One row per album, snowflaked from dim_tracks; artist_sk is the album's main artist (the
    first album artist, which on a compilation is not the tracks' first artist). An album known
    only from the privacy export is keyed like a local file's, by artist and album name. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='album_sk',
        pre_hook="{{ spotify_elt.delete_export_members() }}",
    )
}}

with plays as (

    select * from {{ ref('int_plays_keyed') }}
    {{ spotify_elt.where_loaded_since_last_run() }}

),

-- All of them, every run (macros/incremental.sql, delete_export_members).
export_plays as (

    select * from {{ ref('int_export_plays') }}

),

candidates as (

    select
        album_sk,
        album_artist_sk,
        album_id,
        album_uri,
        album_name,
        album_type,
        album_release_date,
        album_release_date_precision,
        album_total_tracks,
        played_at,
        loaded_at,
        user_id,
        'api' as known_from
    from plays
    union all
    select
        album_sk,
        artist_sk as album_artist_sk,
        cast(null as {{ spotify_elt.type_text() }}) as album_id,
        cast(null as {{ spotify_elt.type_text() }}) as album_uri,
        album_name,
        cast(null as {{ spotify_elt.type_text() }}) as album_type,
        cast(null as {{ spotify_elt.type_text() }}) as album_release_date,
        cast(null as {{ spotify_elt.type_text() }}) as album_release_date_precision,
        cast(null as {{ spotify_elt.type_integer() }}) as album_total_tracks,
        ended_at as played_at,
        loaded_at,
        user_id,
        'export' as known_from
    from export_plays
    where content_type = 'track' and is_known_to_api = 0

),

latest as (

    select
        *,
        row_number() over (
            partition by album_sk
            order by {{ spotify_elt.source_rank('known_from') }}, played_at desc, loaded_at desc, user_id asc
        ) as recency
    from candidates
    where album_sk <> {{ spotify_elt.unknown_key() }}

),

dated as (

    select
        *,
        -- Spotify gives a day, a month (YYYY-MM) or a year (YYYY); '0000' means unknown.
        case
            when album_release_date like '0000%' then null
            when {{ dbt.length('album_release_date') }} = 4 then {{ dbt.concat(['album_release_date', "'-01-01'"]) }}
            when {{ dbt.length('album_release_date') }} = 7 then {{ dbt.concat(['album_release_date', "'-01'"]) }}
            else album_release_date
        end as release_date_text
    from latest
    where recency = 1

),

albums as (

    select
        {{ spotify_elt.cast_to_contract('album_sk') }},
        {{ spotify_elt.cast_to_contract('artist_sk', 'album_artist_sk') }},
        {{ spotify_elt.cast_to_contract('album_id') }},
        {{ spotify_elt.cast_to_contract('album_uri') }},
        {{ spotify_elt.cast_to_contract('album_name') }},
        {{ spotify_elt.cast_to_contract('album_type') }},
        {{ spotify_elt.cast_to_contract('release_date', 'release_date_text') }},
        {{ spotify_elt.cast_to_contract('release_date_precision', 'album_release_date_precision') }},
        {%- set release_date = 'cast(release_date_text as ' ~ spotify_elt.type_date() ~ ')' %}
        cast(
            {{ spotify_elt.date_part_number('year', release_date) }} as {{ spotify_elt.type_integer() }}
        ) as release_year,
        {{ spotify_elt.cast_to_contract('total_tracks', 'album_total_tracks') }},
        {{ spotify_elt.cast_to_contract('known_from') }},
        {{ spotify_elt.cast_to_contract('last_played_at', 'played_at') }},
        {{ spotify_elt.cast_to_contract('loaded_at') }}
    from dated

),

newer as (

    {{ spotify_elt.newer_than_current('albums', 'album_sk', by_source=true) }}

),

unknown_member as (

    {{ spotify_elt.unknown_member({'album_name': 'Unknown album'}) }}

),

final as (

    select * from newer
    union all
    select * from unknown_member

)

select * from final
