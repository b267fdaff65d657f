{#- Podcast episodes, known only from the privacy export (the API's recently-played has none). -#}
with episodes as (

    select * from {{ ref('stg_spotify__streaming_history') }}
    where episode_uri is not null

),

latest as (

    select
        *,
        row_number() over (partition by episode_uri order by ended_at desc, loaded_at desc, record_key asc) as recency
    from episodes

),

named as (

    select
        cast({{ spotify_elt.dimension_key('episode_uri') }} as {{ spotify_elt.type_key() }}) as episode_sk,
        cast(episode_uri as {{ spotify_elt.type_text() }}) as episode_uri,
        cast(episode_name as {{ spotify_elt.type_text() }}) as episode_name,
        cast(show_name as {{ spotify_elt.type_text() }}) as show_name
    from latest
    where recency = 1

),

unknown_member as (

    select
        cast({{ spotify_elt.unknown_key() }} as {{ spotify_elt.type_key() }}) as episode_sk,
        cast(null as {{ spotify_elt.type_text() }}) as episode_uri,
        cast('Unknown episode' as {{ spotify_elt.type_text() }}) as episode_name,
        cast(null as {{ spotify_elt.type_text() }}) as show_name

),

final as (

    select * from named
    union all
    select * from unknown_member

)

select * from final
