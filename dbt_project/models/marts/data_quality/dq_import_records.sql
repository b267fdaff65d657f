{#- What each privacy-export import held, per format: how many records became plays, how many
    had no content at all (no URI, no name: Spotify writes such records, they are not plays),
    and how many were left out as identical to another. A small table over the staged records,
    rebuilt on every run. -#}
with records as (

    select * from {{ ref('stg_spotify__streaming_history') }}

),

counted as (

    select
        user_id,
        batch_id,
        record_format,
        count(*) as records,
        sum(repeats) as identical_records,
        sum(case when content_type is not null then 1 else 0 end) as plays,
        sum(case when content_type is null then 1 else 0 end) as records_without_content,
        sum(
            case when content_type is not null and {{ spotify_elt.is_true('is_video') }} then 1 else 0 end
        ) as video_plays,
        sum(case when content_type is not null and ms_played = 0 then 1 else 0 end) as plays_of_zero_ms,
        sum(case when content_type is not null and ms_played >= 30000 then 1 else 0 end) as counted_streams,
        min(ended_at) as first_ended_at,
        max(ended_at) as last_ended_at
    from records
    group by user_id, batch_id, record_format

),

final as (

    select
        {{ spotify_elt.cast_to_contract('user_id') }},
        {{ spotify_elt.cast_to_contract('batch_id') }},
        {{ spotify_elt.cast_to_contract('record_format') }},
        {{ spotify_elt.cast_to_contract('records') }},
        {{ spotify_elt.cast_to_contract('identical_records') }},
        {{ spotify_elt.cast_to_contract('plays') }},
        {{ spotify_elt.cast_to_contract('records_without_content') }},
        {{ spotify_elt.cast_to_contract('video_plays') }},
        {{ spotify_elt.cast_to_contract('plays_of_zero_ms') }},
        {{ spotify_elt.cast_to_contract('counted_streams') }},
        {{ spotify_elt.cast_to_contract('first_ended_at') }},
        {{ spotify_elt.cast_to_contract('last_ended_at') }}
    from counted

)

select * from final
