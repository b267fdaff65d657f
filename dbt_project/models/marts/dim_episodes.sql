{#- Podcast episodes and audiobook chapters played, known only from the privacy export (the
    API's recently-played has neither). Keyed by URI; an Account-data record has none, and is
    keyed by its show (or audiobook) and title unless those name exactly one known URI. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='episode_sk',
    )
}}

with recent as (

    select * from {{ ref('int_export_plays') }}
    {{ spotify_elt.where_loaded_since_last_run() }}

),

plays as (

    select * from recent
    where content_type in ('episode', 'audiobook')

),

latest as (

    select
        *,
        row_number() over (partition by episode_sk order by ended_at desc, loaded_at desc, record_key asc) as recency
    from plays

),

episodes as (

    select
        cast(episode_sk as {{ spotify_elt.type_key() }}) as episode_sk,
        cast(resolved_uri as {{ spotify_elt.type_text() }}) as episode_uri,
        cast(content_type as {{ spotify_elt.type_text() }}) as content_type,
        cast(content_name as {{ spotify_elt.type_text() }}) as episode_name,
        cast(creator_name as {{ spotify_elt.type_text() }}) as show_name,
        cast(audiobook_uri as {{ spotify_elt.type_text() }}) as audiobook_uri,
        cast(ended_at as {{ spotify_elt.type_timestamp() }}) as last_played_at,
        cast(loaded_at as {{ spotify_elt.type_timestamp() }}) as loaded_at
    from latest
    where recency = 1

),

newer as (

    {{ spotify_elt.newer_than_current('episodes', 'episode_sk') }}

),

unknown_member as (

    select
        cast({{ spotify_elt.unknown_key() }} as {{ spotify_elt.type_key() }}) as episode_sk,
        cast(null as {{ spotify_elt.type_text() }}) as episode_uri,
        cast(null as {{ spotify_elt.type_text() }}) as content_type,
        cast('Unknown episode' as {{ spotify_elt.type_text() }}) as episode_name,
        cast(null as {{ spotify_elt.type_text() }}) as show_name,
        cast(null as {{ spotify_elt.type_text() }}) as audiobook_uri,
        cast(null as {{ spotify_elt.type_timestamp() }}) as last_played_at,
        cast(null as {{ spotify_elt.type_timestamp() }}) as loaded_at

),

final as (

    select * from newer
    union all
    select * from unknown_member

)

select * from final
