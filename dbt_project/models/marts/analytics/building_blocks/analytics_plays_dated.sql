{#- Every play with what the analytics marts group by: the listener's local day and hour, the
    track's album, and its stream and skip flags as 1/0 so that they add up on every warehouse.
    The local times come from fct_plays, which converts each listener's zone DST-correctly. -#}
with plays as (

    select * from {{ ref('fct_plays') }}

),

tracks as (

    select
        track_sk,
        album_sk
    from {{ ref('dim_tracks') }}

),

final as (

    select
        plays.play_sk,
        plays.user_sk,
        plays.user_id,
        plays.played_at,
        plays.played_at_local,
        plays.date_key,
        cast(plays.played_at_local as {{ spotify_elt.type_date() }}) as listening_date,
        {{ spotify_elt.date_part_number('hour', 'plays.played_at_local') }} as hour_of_day,
        plays.content_type,
        plays.track_sk,
        coalesce(tracks.album_sk, {{ spotify_elt.unknown_key() }}) as album_sk,
        plays.ms_played,
        case when {{ spotify_elt.is_true('plays.is_counted_stream') }} then 1 else 0 end as counted_streams,
        case
            when {{ spotify_elt.is_true('plays.skipped') }} then 1
            when plays.skipped is not null then 0
        end as skipped_plays
    from plays
    left join tracks
        on plays.track_sk = tracks.track_sk

)

select * from final
