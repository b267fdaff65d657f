{#- One row per play event of one user. API plays only until the export import (issue #4) adds
    export rows and merges the two. Each row keeps the zone its local time is in: when a user's
    configured zone changes, the next run redoes that user's plays. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='play_sk',
    )
}}

{%- set rezoned_users -%}
user_id in (
        select facts.user_id
        from {{ this }} as facts
        inner join {{ ref('dim_users') }} as users
            on facts.user_id = users.user_id
        where facts.timezone <> users.timezone
    )
{%- endset %}

with plays as (

    select * from {{ ref('int_plays_keyed') }}
    {{ spotify_elt.where_loaded_since_last_run(or_also=rezoned_users) }}

),

users as (

    select
        user_id,
        timezone
    from {{ ref('dim_users') }}

),

zoned as (

    select
        plays.*,
        coalesce(users.timezone, '{{ spotify_elt.default_time_zone() }}') as timezone
    from plays
    left join users
        on plays.user_id = users.user_id

),

localised as (

    select
        *,
        {{ spotify_elt.utc_to_local('played_at', 'timezone') }} as played_at_local
    from zoned

),

final as (

    select
        cast(play_sk as {{ spotify_elt.type_key() }}) as play_sk,
        cast(user_sk as {{ spotify_elt.type_key() }}) as user_sk,
        cast(track_sk as {{ spotify_elt.type_key() }}) as track_sk,
        cast({{ spotify_elt.unknown_key() }} as {{ spotify_elt.type_key() }}) as episode_sk,
        cast(context_sk as {{ spotify_elt.type_key() }}) as context_sk,
        cast({{ spotify_elt.date_key('played_at_local') }} as {{ spotify_elt.type_integer() }}) as date_key,
        cast(user_id as {{ spotify_elt.type_text() }}) as user_id,
        cast(played_at as {{ spotify_elt.type_timestamp() }}) as played_at,
        cast(played_at_local as {{ spotify_elt.type_timestamp() }}) as played_at_local,
        cast(timezone as {{ spotify_elt.type_text() }}) as timezone,
        cast(
            case when track_type = 'episode' then 'episode' else 'track' end
            as {{ spotify_elt.type_text() }}
        ) as content_type,
        -- The API does not say how long a play lasted: the track's length stands in for it.
        cast(duration_ms as {{ spotify_elt.type_bigint() }}) as ms_played,
        {{ spotify_elt.boolean_literal(true) }} as is_ms_played_estimated,
        {{ spotify_elt.as_boolean('duration_ms >= 30000') }} as is_counted_stream,
        cast(null as {{ spotify_elt.type_boolean() }}) as skipped,
        cast(null as {{ spotify_elt.type_boolean() }}) as shuffle,
        cast(null as {{ spotify_elt.type_text() }}) as reason_start,
        cast(null as {{ spotify_elt.type_text() }}) as reason_end,
        cast(null as {{ spotify_elt.type_text() }}) as platform,
        cast('api' as {{ spotify_elt.type_text() }}) as source,
        cast(loaded_at as {{ spotify_elt.type_timestamp() }}) as loaded_at
    from localised

)

select * from final
