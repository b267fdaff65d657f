{#- Privacy-export records that are plays, with the keys of what they played. A record with no
    content at all is not a play (dq_import_records counts those).

    Account data (names only, minute precision) and Extended history overlap: inside the span a
    user's Extended audio history covers, its rows are the record and Account rows are left
    out, so no period is counted twice.

    A record without a URI (Account data, or a local file in either format) takes the URI of
    the one known item with the same creator and title, from API plays or Extended rows;
    when there is no such item, or more than one, it is keyed by its names.

    Older Account data (StreamingHistory0.json) has podcast episodes among the music, the show
    as the artist and the episode as the title, and nothing that tells them apart: a row whose
    artist and title are a show and an episode known from another record (Extended history,
    a podcast file) is an episode. Episodes known from no other record stay tracks.

    A table, rebuilt every run: the dimensions and fct_plays read it several times, and what a
    record resolves to changes as API plays arrive. Its cost follows the export's size; the API
    plays are only probed for the names and URIs the export holds. -#}
{{
    config(
        materialized='table',
        as_columnstore=false,
    )
}}
with staged as (

    select * from {{ ref('stg_spotify__streaming_history') }}
    where content_type is not null

),

known_episodes as (

    select distinct
        show_name,
        episode_name
    from staged
    where content_type = 'episode' and show_name is not null and episode_name is not null

),

history as (

    select
        staged.user_id,
        staged.record_key,
        staged.source_file,
        staged.batch_id,
        staged.loaded_at,
        staged.record_format,
        staged.is_video,
        staged.ended_at,
        staged.ms_played,
        staged.platform,
        staged.conn_country,
        staged.album_name,
        staged.track_uri,
        staged.episode_uri,
        staged.audiobook_title,
        staged.audiobook_uri,
        staged.audiobook_chapter_uri,
        staged.audiobook_chapter_title,
        staged.reason_start,
        staged.reason_end,
        staged.shuffle,
        staged.skipped,
        staged.offline,
        staged.offline_at,
        staged.incognito_mode,
        staged.content_uri,
        staged.is_counted_stream,
        case when known_episodes.show_name is null then staged.content_type else 'episode' end as content_type,
        case when known_episodes.show_name is null then staged.track_name end as track_name,
        case when known_episodes.show_name is null then staged.artist_name end as artist_name,
        coalesce(staged.episode_name, known_episodes.episode_name) as episode_name,
        coalesce(staged.show_name, known_episodes.show_name) as show_name
    from staged
    left join known_episodes
        on
            staged.record_format = 'account'
            and staged.content_type = 'track'
            and staged.artist_name = known_episodes.show_name
            and staged.track_name = known_episodes.episode_name

),

-- Audio history only: video history holds none of the plays Account data lists.
extended_coverage as (

    select
        user_id,
        min(ended_at) as covered_from,
        max(ended_at) as covered_to
    from history
    where record_format = 'extended' and not {{ spotify_elt.is_true('is_video') }}
    group by user_id

),

kept as (

    select history.*
    from history
    left join extended_coverage
        on history.user_id = extended_coverage.user_id
    where
        history.record_format = 'extended'
        or extended_coverage.user_id is null
        -- An Account time is the minute the play ended in: the whole minute must be outside.
        or history.ended_at < {{ dbt.dateadd('minute', -1, 'extended_coverage.covered_from') }}
        or history.ended_at > extended_coverage.covered_to

),

named as (

    select
        *,
        case content_type
            when 'track' then artist_name
            when 'episode' then show_name
            else audiobook_title
        end as creator_name,
        case content_type
            when 'track' then track_name
            when 'episode' then episode_name
            else audiobook_chapter_title
        end as content_name
    from kept

),

api_plays as (

    select
        track_uri,
        first_artist_name,
        track_name
    from {{ ref('int_plays_keyed') }}
    where track_uri is not null

),

-- The API tracks named like an export record without a URI.
api_names as (

    select distinct
        api_plays.track_uri,
        api_plays.first_artist_name,
        api_plays.track_name
    from api_plays
    inner join (
        select distinct
            creator_name,
            content_name
        from named
        where content_uri is null and content_type = 'track'
    ) as unresolved
        on
            api_plays.first_artist_name = unresolved.creator_name
            and api_plays.track_name = unresolved.content_name

),

known_items as (

    select
        'track' as content_type,
        first_artist_name as creator_name,
        track_name as content_name,
        track_uri as content_uri
    from api_names
    union
    select
        content_type,
        creator_name,
        content_name,
        content_uri
    from named
    where content_uri is not null

),

unambiguous_names as (

    select
        content_type,
        creator_name,
        content_name,
        min(content_uri) as content_uri
    from known_items
    where creator_name is not null and content_name is not null
    group by content_type, creator_name, content_name
    having count(distinct content_uri) = 1

),

resolved as (

    select
        named.*,
        coalesce(named.content_uri, unambiguous_names.content_uri) as resolved_uri,
        {{ dbt.concat(["'name:'", "coalesce(named.creator_name, '')", "':'", "coalesce(named.content_name, '')"]) }}
            as name_key
    from named
    left join unambiguous_names
        on
            named.content_uri is null
            and named.content_type = unambiguous_names.content_type
            and named.creator_name = unambiguous_names.creator_name
            and named.content_name = unambiguous_names.content_name

),

keyed as (

    select
        resolved.*,
        {{ spotify_elt.surrogate_key(['resolved.user_id', "'export'", 'resolved.record_key']) }} as export_play_sk,
        {{ spotify_elt.dimension_key('resolved.user_id') }} as user_sk,
        coalesce(resolved.resolved_uri, resolved.name_key) as content_key,
        -- What an API play of the same track would match on: its URI, or for a record with no
        -- URI its artist and title (an API play offers both, fct_plays).
        case
            when resolved.content_type = 'track' then coalesce(resolved.content_uri, resolved.name_key)
        end as match_key,
        -- The seconds the end time is cut to: an Account time is the minute, an Extended one the second.
        case when resolved.record_format = 'account' then 60 else 1 end as precision_seconds,
        case when api_tracks_known.track_uri is not null then 1 else 0 end as is_known_to_api,
        case
            when resolved.content_type = 'track' and resolved.album_name <> ''
                then {{ dbt.concat(["'local:'", "coalesce(resolved.artist_name, '')", "':'", 'resolved.album_name']) }}
        end as album_key,
        case
            when resolved.content_type = 'track' and resolved.artist_name <> ''
                then {{ dbt.concat(["'local:'", 'resolved.artist_name']) }}
        end as artist_key
    from resolved
    left join (
        select distinct api_plays.track_uri
        from api_plays
        inner join (select distinct resolved_uri from resolved) as exported
            on api_plays.track_uri = exported.resolved_uri
    ) as api_tracks_known
        on resolved.resolved_uri = api_tracks_known.track_uri

),

final as (

    select
        *,
        case
            when content_type = 'track' then {{ spotify_elt.dimension_key('content_key') }}
            else {{ spotify_elt.unknown_key() }}
        end as track_sk,
        case
            when content_type <> 'track' then {{ spotify_elt.dimension_key('content_key') }}
            else {{ spotify_elt.unknown_key() }}
        end as episode_sk,
        {{ spotify_elt.dimension_key('album_key') }} as album_sk,
        {{ spotify_elt.dimension_key('artist_key') }} as artist_sk
    from keyed

)

select * from final
