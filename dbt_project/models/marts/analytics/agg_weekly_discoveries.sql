{#- Grain: one row per listener and local week (Monday to Sunday) with a counted stream of a
    track. The discovery rate is the share of the week's tracks (artists) heard for the first
    time that week. The listener's first week in the warehouse is flagged: all of it is new. -#}
{#- From the daily marts, not the plays: a week's distinct tracks are its distinct daily rows. -#}
with track_weeks as (

    select
        user_sk,
        user_id,
        {{ spotify_elt.week_start('listening_date') }} as week_start_date,
        track_sk
    from {{ ref('agg_daily_track_listening') }}
    where counted_streams > 0

),

artist_weeks as (

    select
        user_id,
        {{ spotify_elt.week_start('listening_date') }} as week_start_date,
        artist_sk
    from {{ ref('agg_daily_artist_listening') }}
    where counted_streams > 0 and artist_sk <> {{ spotify_elt.unknown_key() }}

),

discoveries as (

    select * from {{ ref('fct_discoveries') }}

),

weeks as (

    select
        user_sk,
        user_id,
        week_start_date,
        count(distinct track_sk) as distinct_tracks
    from track_weeks
    group by user_sk, user_id, week_start_date

),

artists as (

    select
        user_id,
        week_start_date,
        count(distinct artist_sk) as distinct_artists
    from artist_weeks
    group by user_id, week_start_date

),

new_items as (

    select
        user_id,
        week_start_date,
        sum(case when discovery_type = 'track' then 1 else 0 end) as new_tracks,
        sum(case when discovery_type = 'artist' then 1 else 0 end) as new_artists
    from discoveries
    group by user_id, week_start_date

),

counted as (

    select
        weeks.user_sk,
        weeks.user_id,
        weeks.week_start_date,
        weeks.distinct_tracks,
        coalesce(new_items.new_tracks, 0) as new_tracks,
        coalesce(artists.distinct_artists, 0) as distinct_artists,
        coalesce(new_items.new_artists, 0) as new_artists,
        row_number() over (partition by weeks.user_id order by weeks.week_start_date) as week_number
    from weeks
    left join artists
        on weeks.user_id = artists.user_id and weeks.week_start_date = artists.week_start_date
    left join new_items
        on weeks.user_id = new_items.user_id and weeks.week_start_date = new_items.week_start_date

),

final as (

    select
        {{ spotify_elt.cast_to_contract('user_sk') }},
        {{ spotify_elt.cast_to_contract('week_start_date_key', spotify_elt.date_key('week_start_date')) }},
        {{ spotify_elt.cast_to_contract('user_id') }},
        {{ spotify_elt.cast_to_contract('week_start_date') }},
        {{ spotify_elt.cast_to_contract('distinct_tracks') }},
        {{ spotify_elt.cast_to_contract('new_tracks') }},
        {{ spotify_elt.share('new_tracks', 'distinct_tracks') }} as track_discovery_rate,
        {{ spotify_elt.cast_to_contract('distinct_artists') }},
        {{ spotify_elt.cast_to_contract('new_artists') }},
        {{ spotify_elt.share('new_artists', 'distinct_artists') }} as artist_discovery_rate,
        {{ spotify_elt.as_boolean('week_number = 1') }} as is_first_week
    from counted

)

select * from final
