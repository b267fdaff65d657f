with source as (

    select * from {{ source('spotify', 'spotify_users') }}

),

renamed as (

    select
        user_id,
        _loaded_at as loaded_at,
        {{ spotify_elt.json_fields('profile', [
            ['display_name', 'display_name', 'text'],
            ['user_uri', 'uri', 'text'],
        ]) }}
    from source

)

select * from renamed
