{#- One row per artist credited on a played track, in the order Spotify lists them. -#}
with plays as (

    select * from {{ ref('int_plays_keyed') }}

),

elements as (

    {{ spotify_elt.json_array_elements('plays', 'track_artists', ['track_sk', 'user_id', 'played_at', 'loaded_at']) }}

),

artists as (

    select
        track_sk,
        user_id,
        played_at,
        loaded_at,
        element_position as artist_position,
        {{ spotify_elt.json_fields('element_json', [
            ['artist_id', 'id', 'text'],
            ['artist_name', 'name', 'text'],
        ]) }}
    from elements

),

keyed as (

    select
        *,
        case
            when artist_id is not null then artist_id
            when artist_name <> '' then {{ dbt.concat(["'local:'", 'artist_name']) }}
        end as artist_key
    from artists

),

final as (

    select
        track_sk,
        {{ spotify_elt.dimension_key('artist_key') }} as artist_sk,
        artist_position,
        artist_id,
        artist_name,
        artist_key,
        user_id,
        played_at,
        loaded_at
    from keyed

)

select * from final
