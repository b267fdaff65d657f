{#- Where a play was started from: a playlist, an album, an artist, liked songs (collection).
    Plays with no context point at the unknown member. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='context_sk',
    )
}}

with plays as (

    select * from {{ ref('int_plays_keyed') }}
    {{ spotify_elt.where_loaded_since_last_run() }}

),

latest as (

    select
        *,
        row_number() over (partition by context_sk order by played_at desc, loaded_at desc, user_id asc) as recency
    from plays
    where context_sk <> {{ spotify_elt.unknown_key() }}

),

contexts as (

    select
        {{ spotify_elt.cast_to_contract('context_sk') }},
        {{ spotify_elt.cast_to_contract('context_type') }},
        {{ spotify_elt.cast_to_contract('context_uri') }},
        {{ spotify_elt.cast_to_contract('last_played_at', 'played_at') }},
        {{ spotify_elt.cast_to_contract('loaded_at') }}
    from latest
    where recency = 1

),

newer as (

    {{ spotify_elt.newer_than_current('contexts', 'context_sk') }}

),

unknown_member as (

    {{ spotify_elt.unknown_member({'context_type': 'unknown'}) }}

),

final as (

    select * from newer
    union all
    select * from unknown_member

)

select * from final
