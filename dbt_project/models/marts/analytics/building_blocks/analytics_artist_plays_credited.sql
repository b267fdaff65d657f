{#- Every music play once for each artist credited on its track: a duet counts for both. The
    unknown artist stands in for a track with no credits, so that no play is lost. -#}
with plays as (

    select * from {{ ref('analytics_plays_dated') }}
    where content_type = 'track'

),

credits as (

    select
        track_sk,
        artist_sk
    from {{ ref('bridge_track_artists') }}

),

final as (

    select
        plays.play_sk,
        plays.user_sk,
        plays.user_id,
        plays.played_at,
        plays.played_at_local,
        plays.date_key,
        plays.listening_date,
        plays.track_sk,
        coalesce(credits.artist_sk, {{ spotify_elt.unknown_key() }}) as artist_sk,
        plays.ms_played,
        plays.counted_streams,
        plays.skipped_plays
    from plays
    left join credits
        on plays.track_sk = credits.track_sk

)

select * from final
