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
        cast(context_sk as {{ spotify_elt.type_key() }}) as context_sk,
        cast(context_type as {{ spotify_elt.type_text() }}) as context_type,
        cast(context_uri as {{ spotify_elt.type_text() }}) as context_uri,
        cast(played_at as {{ spotify_elt.type_timestamp() }}) as last_played_at,
        cast(loaded_at as {{ spotify_elt.type_timestamp() }}) as loaded_at
    from latest
    where recency = 1

),

newer as (

    {{ spotify_elt.newer_than_current('contexts', 'context_sk') }}

),

unknown_member as (

    select
        cast({{ spotify_elt.unknown_key() }} as {{ spotify_elt.type_key() }}) as context_sk,
        cast('unknown' as {{ spotify_elt.type_text() }}) as context_type,
        cast(null as {{ spotify_elt.type_text() }}) as context_uri,
        cast(null as {{ spotify_elt.type_timestamp() }}) as last_played_at,
        cast(null as {{ spotify_elt.type_timestamp() }}) as loaded_at

),

final as (

    select * from newer
    union all
    select * from unknown_member

)

select * from final
