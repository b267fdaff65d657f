{#- Grain: one row per listener and local day with at least one play. Skips are known only for
    plays the privacy export describes (`plays_with_skip_data`); the API does not report them. -#}
with plays as (

    select * from {{ ref('int_plays_dated') }}

),

artist_plays as (

    select * from {{ ref('int_artist_plays_credited') }}

),

discoveries as (

    select * from {{ ref('fct_discoveries') }}

),

days as (

    select
        user_sk,
        user_id,
        date_key,
        listening_date,
        count(*) as plays,
        sum(counted_streams) as counted_streams,
        sum(ms_played) as ms_played,
        count(distinct case when content_type = 'track' then track_sk end) as distinct_tracks,
        sum(case when content_type = 'track' then 1 else 0 end) as track_plays,
        sum(case when content_type = 'episode' then 1 else 0 end) as episode_plays,
        sum(case when content_type = 'audiobook' then 1 else 0 end) as audiobook_plays,
        sum(case when content_type = 'track' then ms_played else 0 end) as track_ms_played,
        sum(case when content_type = 'episode' then ms_played else 0 end) as episode_ms_played,
        sum(case when content_type = 'audiobook' then ms_played else 0 end) as audiobook_ms_played,
        count(skipped_plays) as plays_with_skip_data,
        coalesce(sum(skipped_plays), 0) as skipped_plays
    from plays
    group by user_sk, user_id, date_key, listening_date

),

artists as (

    select
        user_id,
        date_key,
        count(distinct artist_sk) as distinct_artists
    from artist_plays
    where artist_sk <> {{ spotify_elt.unknown_key() }}
    group by user_id, date_key

),

new_items as (

    select
        user_id,
        date_key,
        sum(case when discovery_type = 'track' then 1 else 0 end) as new_tracks,
        sum(case when discovery_type = 'artist' then 1 else 0 end) as new_artists
    from discoveries
    group by user_id, date_key

),

final as (

    select
        cast(days.user_sk as {{ spotify_elt.type_key() }}) as user_sk,
        cast(days.date_key as {{ spotify_elt.type_integer() }}) as date_key,
        cast(days.user_id as {{ spotify_elt.type_text() }}) as user_id,
        cast(days.listening_date as {{ spotify_elt.type_date() }}) as listening_date,
        cast(days.plays as {{ spotify_elt.type_integer() }}) as plays,
        cast(days.counted_streams as {{ spotify_elt.type_integer() }}) as counted_streams,
        cast(days.ms_played as {{ spotify_elt.type_bigint() }}) as ms_played,
        {{ spotify_elt.minutes('days.ms_played') }} as minutes_played,
        cast(days.distinct_tracks as {{ spotify_elt.type_integer() }}) as distinct_tracks,
        cast(coalesce(artists.distinct_artists, 0) as {{ spotify_elt.type_integer() }}) as distinct_artists,
        cast(days.track_plays as {{ spotify_elt.type_integer() }}) as track_plays,
        cast(days.episode_plays as {{ spotify_elt.type_integer() }}) as episode_plays,
        cast(days.audiobook_plays as {{ spotify_elt.type_integer() }}) as audiobook_plays,
        {{ spotify_elt.minutes('days.track_ms_played') }} as track_minutes,
        {{ spotify_elt.minutes('days.episode_ms_played') }} as episode_minutes,
        {{ spotify_elt.minutes('days.audiobook_ms_played') }} as audiobook_minutes,
        cast(days.plays_with_skip_data as {{ spotify_elt.type_integer() }}) as plays_with_skip_data,
        cast(days.skipped_plays as {{ spotify_elt.type_integer() }}) as skipped_plays,
        {{ spotify_elt.share('days.skipped_plays', 'days.plays_with_skip_data') }} as skip_rate,
        cast(coalesce(new_items.new_tracks, 0) as {{ spotify_elt.type_integer() }}) as new_tracks,
        cast(coalesce(new_items.new_artists, 0) as {{ spotify_elt.type_integer() }}) as new_artists
    from days
    left join artists
        on days.user_id = artists.user_id and days.date_key = artists.date_key
    left join new_items
        on days.user_id = new_items.user_id and days.date_key = new_items.date_key

)

select * from final
