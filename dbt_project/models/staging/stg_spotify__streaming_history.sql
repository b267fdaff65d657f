{#- Extended streaming history records of the privacy export (issue #4 lands them and adds the
    Account-data format). Field names follow Spotify's; `ts` is when the play ended. -#}
with source as (

    select * from {{ source('spotify', 'spotify_streaming_history') }}

),

renamed as (

    select
        user_id,
        record_key,
        source_file,
        _batch_id as batch_id,
        _loaded_at as loaded_at,
        {{ spotify_elt.json_fields('record', [
            ['ended_at_text', 'ts', 'text'],
            ['ms_played', 'ms_played', 'bigint'],
            ['platform', 'platform', 'text'],
            ['conn_country', 'conn_country', 'text'],
            ['track_name', 'master_metadata_track_name', 'text'],
            ['artist_name', 'master_metadata_album_artist_name', 'text'],
            ['album_name', 'master_metadata_album_album_name', 'text'],
            ['track_uri', 'spotify_track_uri', 'text'],
            ['episode_name', 'episode_name', 'text'],
            ['show_name', 'episode_show_name', 'text'],
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
            ['incognito_mode', 'incognito_mode', 'boolean'],
        ]) }}
    from source

),

parsed as (

    select
        *,
        {{ spotify_elt.parse_iso_timestamp('ended_at_text') }} as ended_at
    from renamed

)

select * from parsed
