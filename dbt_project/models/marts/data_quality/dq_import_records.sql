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
        cast(user_id as {{ spotify_elt.type_text() }}) as user_id,
        cast(batch_id as {{ spotify_elt.type_text() }}) as batch_id,
        cast(record_format as {{ spotify_elt.type_text() }}) as record_format,
        cast(records as {{ spotify_elt.type_bigint() }}) as records,
        cast(identical_records as {{ spotify_elt.type_bigint() }}) as identical_records,
        cast(plays as {{ spotify_elt.type_bigint() }}) as plays,
        cast(records_without_content as {{ spotify_elt.type_bigint() }}) as records_without_content,
        cast(video_plays as {{ spotify_elt.type_bigint() }}) as video_plays,
        cast(plays_of_zero_ms as {{ spotify_elt.type_bigint() }}) as plays_of_zero_ms,
        cast(counted_streams as {{ spotify_elt.type_bigint() }}) as counted_streams,
        cast(first_ended_at as {{ spotify_elt.type_timestamp() }}) as first_ended_at,
        cast(last_ended_at as {{ spotify_elt.type_timestamp() }}) as last_ended_at
    from counted

)

select * from final
