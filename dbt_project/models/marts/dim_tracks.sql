{#- One row per track ever played (local files included), with its latest attributes. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='track_sk',
    )
}}

with plays as (

    select * from {{ ref('int_plays_keyed') }}
    {{ spotify_elt.where_loaded_since_last_run() }}

),

latest as (

    select
        *,
        row_number() over (partition by track_sk order by played_at desc, loaded_at desc, user_id asc) as recency
    from plays

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
        cast(played_at as {{ spotify_elt.type_timestamp() }}) as last_played_at,
        cast(loaded_at as {{ spotify_elt.type_timestamp() }}) as loaded_at
    from latest
    where recency = 1

),

newer as (

    {{ spotify_elt.newer_than_current('tracks', 'track_sk') }}

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
