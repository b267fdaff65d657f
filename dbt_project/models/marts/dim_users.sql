{#- Everyone with plays or a stored profile, with the time zone their local times use. -#}
with profiles as (

    select
        user_id,
        display_name
    from {{ ref('stg_spotify__users') }}

),

listeners as (

    select user_id from {{ ref('stg_spotify__recently_played') }}
    union
    -- Someone may import their export before (or without) ever being polled.
    select user_id from {{ ref('stg_spotify__streaming_history') }}

),

configured as (

    {{ spotify_elt.configured_user_time_zones() }}

),

all_users as (

    select user_id from profiles
    union
    select user_id from listeners

),

users as (

    select
        {{ spotify_elt.cast_to_contract('user_sk', spotify_elt.dimension_key('all_users.user_id')) }},
        {{ spotify_elt.cast_to_contract('user_id', 'all_users.user_id') }},
        {{ spotify_elt.cast_to_contract('display_name', 'profiles.display_name') }},
        cast(
            coalesce(configured.timezone, '{{ spotify_elt.default_time_zone() }}')
            as {{ spotify_elt.type_text() }}
        ) as timezone
    from all_users
    left join profiles
        on all_users.user_id = profiles.user_id
    left join configured
        on all_users.user_id = configured.user_id

),

unknown_member as (

    {{ spotify_elt.unknown_member({'display_name': 'Unknown user', 'timezone': spotify_elt.default_time_zone()}) }}

),

final as (

    select * from users
    union all
    select * from unknown_member

)

select * from final
