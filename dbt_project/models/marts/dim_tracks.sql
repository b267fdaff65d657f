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
        {{ spotify_elt.cast_to_contract('track_sk') }},
        {{ spotify_elt.cast_to_contract('album_sk') }},
        {{ spotify_elt.cast_to_contract('track_id') }},
        {{ spotify_elt.cast_to_contract('track_uri') }},
        {{ spotify_elt.cast_to_contract('track_name') }},
        {{ spotify_elt.cast_to_contract('duration_ms') }},
        {{ spotify_elt.cast_to_contract('explicit') }},
        {{ spotify_elt.cast_to_contract('isrc') }},
        {{ spotify_elt.cast_to_contract('is_local') }},
        {{ spotify_elt.cast_to_contract('disc_number') }},
        {{ spotify_elt.cast_to_contract('track_number') }},
        {{ spotify_elt.cast_to_contract('known_from') }},
        {{ spotify_elt.cast_to_contract('last_played_at', 'played_at') }},
        {{ spotify_elt.cast_to_contract('loaded_at') }}
    from latest
    where recency = 1

),

newer as (

    {{ spotify_elt.newer_than_current('tracks', 'track_sk', by_source=true) }}

),

unknown_member as (

    {{ spotify_elt.unknown_member({'track_name': 'Unknown track'}) }}

),

final as (

    select * from newer
    where track_sk <> {{ spotify_elt.unknown_key() }}
    union all
    select * from unknown_member

)

select * from final
