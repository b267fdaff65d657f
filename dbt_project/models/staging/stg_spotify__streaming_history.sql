{#- Privacy-export records, both formats, one row per record: Extended streaming history (field
    names as Spotify's, `ts` is when the play ended, to the second; video history has the same
    fields) and Account data (`endTime` to the minute, names only; music, podcast and audiobook
    files). Parsed once: a table that takes only newly imported records. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['user_id', 'record_key'],
    )
}}

with source as (

    select * from {{ source('spotify', 'spotify_streaming_history') }}
    {{ spotify_elt.where_loaded_since_last_run('_loaded_at') }}

),

renamed as (

    select
        user_id,
        record_key,
        source_file,
        repeats,
        _batch_id as batch_id,
        _loaded_at as loaded_at,
        {{ spotify_elt.json_fields('record', [
            ['ended_at_text', 'ts', 'text'],
            ['extended_ms_played', 'ms_played', 'bigint'],
            ['platform', 'platform', 'text'],
            ['conn_country', 'conn_country', 'text'],
            ['extended_track_name', 'master_metadata_track_name', 'text'],
            ['extended_artist_name', 'master_metadata_album_artist_name', 'text'],
            ['album_name', 'master_metadata_album_album_name', 'text'],
            ['track_uri', 'spotify_track_uri', 'text'],
            ['extended_episode_name', 'episode_name', 'text'],
            ['extended_show_name', 'episode_show_name', 'text'],
            ['episode_uri', 'spotify_episode_uri', 'text'],
            ['audiobook_title', 'audiobook_title', 'text'],
            ['audiobook_uri', 'audiobook_uri', 'text'],
            ['audiobook_chapter_uri', 'audiobook_chapter_uri', 'text'],
            ['audiobook_chapter_title', 'audiobook_chapter_title', 'text'],
            ['reason_start', 'reason_start', 'text'],
            ['reason_end', 'reason_end', 'text'],
            ['shuffle', 'shuffle', 'boolean'],
            ['skipped', 'skipped', 'boolean'],
            ['offline', 'offline', 'boolean'],
            ['offline_timestamp', 'offline_timestamp', 'bigint'],
            ['incognito_mode', 'incognito_mode', 'boolean'],
            ['end_time_text', 'endTime', 'text'],
            ['account_ms_played', 'msPlayed', 'bigint'],
            ['account_artist_name', 'artistName', 'text'],
            ['account_track_name', 'trackName', 'text'],
            ['account_show_name', 'podcastName', 'text'],
            ['account_episode_name', 'episodeName', 'text'],
            ['account_audiobook_title', 'audiobookName', 'text'],
            ['account_chapter_title', 'chapterName', 'text'],
            ['author_name', 'authorName', 'text'],
        ]) }}
    from source

),

unified as (

    select
        user_id,
        record_key,
        source_file,
        repeats,
        batch_id,
        loaded_at,
        case when ended_at_text is not null then 'extended' else 'account' end as record_format,
        -- The import takes a file for video history by its name, as Spotify names them.
        {{ spotify_elt.as_boolean(
            "lower(" ~ spotify_elt.file_name('source_file') ~ ") like 'streaming_history_video%'"
            ~ " or lower(" ~ spotify_elt.file_name('source_file') ~ ") like 'endvideo%'"
        ) }} as is_video,
        case
            when ended_at_text is not null then {{ spotify_elt.parse_iso_timestamp('ended_at_text') }}
            -- Account data: 'YYYY-MM-DD HH:MM', UTC.
            else {{ spotify_elt.parse_iso_timestamp(dbt.concat(["replace(end_time_text, ' ', 'T')", "':00Z'"])) }}
        end as ended_at,
        coalesce(extended_ms_played, account_ms_played) as ms_played,
        platform,
        conn_country,
        coalesce(extended_track_name, account_track_name) as track_name,
        coalesce(extended_artist_name, account_artist_name) as artist_name,
        album_name,
        track_uri,
        coalesce(extended_episode_name, account_episode_name) as episode_name,
        coalesce(extended_show_name, account_show_name) as show_name,
        episode_uri,
        coalesce(audiobook_title, account_audiobook_title) as audiobook_title,
        audiobook_uri,
        audiobook_chapter_uri,
        coalesce(audiobook_chapter_title, account_chapter_title) as audiobook_chapter_title,
        author_name,
        reason_start,
        reason_end,
        shuffle,
        skipped,
        offline,
        -- Seconds in current exports, milliseconds in older ones (1e11 s is the year 5138).
        -- Beyond 2^31 s (2038) it is no time we can place: SQL Server's dateadd takes an int.
        case
            when offline_timestamp >= 100000000000 and offline_timestamp < 2147483648000
                then cast(floor(offline_timestamp / 1000.0) as {{ spotify_elt.type_bigint() }})
            when offline_timestamp > 0 and offline_timestamp < 2147483648 then offline_timestamp
        end as offline_epoch_seconds,
        incognito_mode
    from renamed

),

classified as (

    select
        *,
        case
            -- ingestion/export/formats.py counts a record as a play by the same fields (CONTENT_FIELDS).
            when episode_uri is not null or show_name is not null then 'episode'
            when
                audiobook_chapter_uri is not null or audiobook_uri is not null or audiobook_title is not null
                then 'audiobook'
            -- Local files have a name and no URI.
            when track_uri is not null or track_name is not null then 'track'
        end as content_type,
        coalesce(track_uri, episode_uri, audiobook_chapter_uri, audiobook_uri) as content_uri,
        {{ dbt.dateadd(
            'second',
            'offline_epoch_seconds',
            "cast('1970-01-01 00:00:00' as " ~ spotify_elt.type_timestamp() ~ ")",
        ) }} as offline_at
    from unified

),

final as (

    select
        *,
        {{ spotify_elt.as_boolean('ms_played >= 30000') }} as is_counted_stream
    from classified

)

select * from final
