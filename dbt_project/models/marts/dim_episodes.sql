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
        {{ spotify_elt.cast_to_contract('episode_sk') }},
        {{ spotify_elt.cast_to_contract('episode_uri', 'resolved_uri') }},
        {{ spotify_elt.cast_to_contract('episode_name', 'content_name') }},
        {{ spotify_elt.cast_to_contract('content_type') }},
        {{ spotify_elt.cast_to_contract('show_name', 'creator_name') }},
        {{ spotify_elt.cast_to_contract('audiobook_uri') }},
        {{ spotify_elt.cast_to_contract('last_played_at', 'ended_at') }},
        {{ spotify_elt.cast_to_contract('loaded_at') }}
    from latest
    where recency = 1

),

newer as (

    {{ spotify_elt.newer_than_current('episodes', 'episode_sk') }}

),

unknown_member as (

    {{ spotify_elt.unknown_member({'episode_name': 'Unknown episode'}) }}

),

final as (

    select * from newer
    union all
    select * from unknown_member

)

select * from final
