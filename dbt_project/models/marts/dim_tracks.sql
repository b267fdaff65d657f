{#- One row per track ever played (local files included), with its latest attributes. A track
    known only from the privacy export has its names and no more (`known_from` = 'export')
    until an API play of it brings the rest. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='track_sk',
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
        track_sk,
        album_sk,
        track_id,
        track_uri,
        track_name,
        duration_ms,
        explicit,
        isrc,
        is_local,
        disc_number,
        track_number,
        played_at,
        loaded_at,
        user_id,
        'api' as known_from
    from plays
    union all
    select
        track_sk,
        album_sk,
        case
            when resolved_uri like 'spotify:track:%' then replace(resolved_uri, 'spotify:track:', '')
        end as track_id,
        resolved_uri as track_uri,
        content_name as track_name,
        cast(null as {{ spotify_elt.type_bigint() }}) as duration_ms,
        cast(null as {{ spotify_elt.type_boolean() }}) as explicit,
        cast(null as {{ spotify_elt.type_text() }}) as isrc,
        -- A local file in the export has no URI, like an Account record: it cannot be told apart.
        cast(null as {{ spotify_elt.type_boolean() }}) as is_local,
        cast(null as {{ spotify_elt.type_integer() }}) as disc_number,
        cast(null as {{ spotify_elt.type_integer() }}) as track_number,
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
            partition by track_sk
            order by {{ spotify_elt.source_rank('known_from') }}, played_at desc, loaded_at desc, user_id asc
        ) as recency
    from candidates

),

tracks as (

    select
        cast(track_sk as {{ spotify_elt.type_key() }}) as track_sk,
        cast(album_sk as {{ spotify_elt.type_key() }}) as album_sk,
        cast(track_id as {{ spotify_elt.type_text() }}) as track_id,
        cast(track_uri as {{ spotify_elt.type_text() }}) as track_uri,
        cast(track_name as {{ spotify_elt.type_text() }}) as track_name,
        cast(duration_ms as {{ spotify_elt.type_bigint() }}) as duration_ms,
        cast(explicit as {{ spotify_elt.type_boolean() }}) as explicit,
        cast(isrc as {{ spotify_elt.type_text() }}) as isrc,
        cast(is_local as {{ spotify_elt.type_boolean() }}) as is_local,
        cast(disc_number as {{ spotify_elt.type_integer() }}) as disc_number,
        cast(track_number as {{ spotify_elt.type_integer() }}) as track_number,
        cast(known_from as {{ spotify_elt.type_text() }}) as known_from,
        cast(played_at as {{ spotify_elt.type_timestamp() }}) as last_played_at,
        cast(loaded_at as {{ spotify_elt.type_timestamp() }}) as loaded_at
    from latest
    where recency = 1

),

newer as (

    {{ spotify_elt.newer_than_current('tracks', 'track_sk', by_source=true) }}

),

unknown_member as (

    select
        cast({{ spotify_elt.unknown_key() }} as {{ spotify_elt.type_key() }}) as track_sk,
        cast({{ spotify_elt.unknown_key() }} as {{ spotify_elt.type_key() }}) as album_sk,
        cast(null as {{ spotify_elt.type_text() }}) as track_id,
        cast(null as {{ spotify_elt.type_text() }}) as track_uri,
        cast('Unknown track' as {{ spotify_elt.type_text() }}) as track_name,
        cast(null as {{ spotify_elt.type_bigint() }}) as duration_ms,
        cast(null as {{ spotify_elt.type_boolean() }}) as explicit,
        cast(null as {{ spotify_elt.type_text() }}) as isrc,
        cast(null as {{ spotify_elt.type_boolean() }}) as is_local,
        cast(null as {{ spotify_elt.type_integer() }}) as disc_number,
        cast(null as {{ spotify_elt.type_integer() }}) as track_number,
        cast(null as {{ spotify_elt.type_text() }}) as known_from,
        cast(null as {{ spotify_elt.type_timestamp() }}) as last_played_at,
        cast(null as {{ spotify_elt.type_timestamp() }}) as loaded_at

),

final as (

    select * from newer
    where track_sk <> {{ spotify_elt.unknown_key() }}
    union all
    select * from unknown_member

)

select * from final
