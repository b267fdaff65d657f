{#- One row per play event of one user, from API polls, the privacy export, or both.

    An export record and an API play are the same play when they are of the same user and the
    same track (the URI; for a record without one, the artist and title) and their end times lie
    within `merge_tolerance_seconds` of each other, widened by the record's precision (a second
    for Extended history, the minute for Account data). Each API play and each record is in at
    most one pair: the pair nearest in time on both sides. A merged row keeps the API's
    `played_at` and context, and the export's measured `ms_played` and playback details.

    Incremental runs redo whole (user, UTC day) windows (macros/plays.sql). Each row keeps the
    zone its local time is in: when a user's configured zone changes, the next run redoes that
    user's plays. `transformed_at` says which run wrote a row: the incremental analytics marts
    redo the days with rows written since their own last run (macros/analytics.sql). -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='play_sk',
        pre_hook="{{ spotify_elt.delete_recomputed_plays() }}",
    )
}}

{%- set tolerance = var('merge_tolerance_seconds') | int %}
{#- Plays are paired within buckets of whole minutes; a pair's times span at most two of them. -#}
{%- set bucket_minutes = (60 + 2 * tolerance) // 60 + 2 %}

with

{%- if spotify_elt.is_incremental_run() %}

output_days as (

    {{ spotify_elt.changed_play_days([-1, 0, 1]) }}

),

read_days as (

    {{ spotify_elt.changed_play_days([-2, -1, 0, 1, 2]) }}

),

-- The pre-hook has deleted the plays of every user whose zone changed, so they are the users
-- with no row left (a new user too: all their plays are new anyway). Comparing zones here, after
-- the delete, would find none of them, and their plays would be lost.
rezoned_users as (

    select users.user_id
    from {{ ref('dim_users') }} as users
    where users.user_id not in (select facts.user_id from {{ this }} as facts)

),

{%- endif %}

api_plays as (

    select * from {{ ref('int_plays_keyed') }}
    {%- if spotify_elt.is_incremental_run() %} as plays
    where {{ spotify_elt.in_recomputed_days('plays', 'played_at', 'read_days') }}
    {%- endif %}

),

export_plays as (

    select * from {{ ref('int_export_plays') }}
    {%- if spotify_elt.is_incremental_run() %} as plays
    where {{ spotify_elt.in_recomputed_days('plays', 'ended_at', 'read_days') }}
    {%- endif %}

),

-- Only the plays of listeners with export records can pair.
api_plays_to_pair as (

    select * from api_plays
    where user_id in (select export_plays.user_id from export_plays)

),

-- An API play offers its URI, and its artist and title for export records that have no URI.
api_match_keys as (

    select
        play_sk,
        user_id,
        played_at,
        track_uri as match_key
    from api_plays_to_pair
    where track_uri is not null
    union all
    select
        play_sk,
        user_id,
        played_at,
        {{ dbt.concat(["'name:'", 'first_artist_name', "':'", 'track_name']) }} as match_key
    from api_plays_to_pair
    where first_artist_name is not null and track_name is not null

),

api_buckets as (

    select
        *,
        cast(
            floor(
                {{ spotify_elt.minutes_since_2000('played_at') }}
                / {{ bucket_minutes }}
            ) as {{ spotify_elt.type_bigint() }}
        ) as time_bucket
    from api_match_keys

),

export_buckets as (

    select
        export_plays.user_id,
        export_plays.export_play_sk,
        export_plays.match_key,
        export_plays.ended_at,
        export_plays.precision_seconds,
        cast(
            floor(
                {{ spotify_elt.minutes_since_2000(dbt.dateadd('second', -tolerance, 'export_plays.ended_at')) }}
                / {{ bucket_minutes }}
            ) as {{ spotify_elt.type_bigint() }}
        ) + shifts.shift as time_bucket
    from export_plays
    cross join (
        select 0 as shift
        union all
        select 1 as shift
    ) as shifts
    where export_plays.match_key is not null

),

candidate_pairs as (

    select
        api_buckets.play_sk as api_play_sk,
        export_buckets.export_play_sk,
        export_buckets.precision_seconds,
        {{ spotify_elt.milliseconds_between(
            'export_buckets.ended_at',
            'api_buckets.played_at',
        ) }} as offset_ms
    from export_buckets
    inner join api_buckets
        on
            export_buckets.user_id = api_buckets.user_id
            and export_buckets.match_key = api_buckets.match_key
            and export_buckets.time_bucket = api_buckets.time_bucket

),

pairs as (

    select
        api_play_sk,
        export_play_sk,
        -- From the middle of the span the record's truncated end time stands for.
        abs(offset_ms - precision_seconds * 500) as distance_ms
    from candidate_pairs
    where
        offset_ms >= -1000 * {{ tolerance }}
        and offset_ms < 1000 * (precision_seconds + {{ tolerance }})

),

ranked_pairs as (

    select
        *,
        row_number() over (partition by api_play_sk order by distance_ms, export_play_sk) as api_rank,
        row_number() over (partition by export_play_sk order by distance_ms, api_play_sk) as export_rank
    from pairs

),

matches as (

    select
        api_play_sk,
        export_play_sk
    from ranked_pairs
    where api_rank = 1 and export_rank = 1

),

api_rows as (

    select
        api_plays.play_sk,
        api_plays.user_sk,
        api_plays.track_sk,
        {{ spotify_elt.cast_to_contract('episode_sk', spotify_elt.unknown_key()) }},
        api_plays.context_sk,
        api_plays.user_id,
        api_plays.played_at,
        case when api_plays.track_type = 'episode' then 'episode' else 'track' end as content_type,
        -- The API does not say how long a play lasted: without an export record, the track's
        -- length stands in for it.
        coalesce(export_plays.ms_played, api_plays.duration_ms) as ms_played,
        case when export_plays.export_play_sk is null then 1 else 0 end as is_ms_played_estimated,
        export_plays.skipped,
        export_plays.shuffle,
        export_plays.reason_start,
        export_plays.reason_end,
        export_plays.platform,
        export_plays.conn_country,
        export_plays.offline,
        export_plays.incognito_mode,
        coalesce(export_plays.is_video, {{ spotify_elt.boolean_literal(false) }}) as is_video,
        case when export_plays.export_play_sk is null then 'api' else 'api+export' end as source,
        export_plays.record_key as export_record_key,
        case
            when export_plays.loaded_at > api_plays.loaded_at then export_plays.loaded_at
            else api_plays.loaded_at
        end as loaded_at
    from api_plays
    left join matches
        on api_plays.play_sk = matches.api_play_sk
    left join export_plays
        on matches.export_play_sk = export_plays.export_play_sk

),

export_rows as (

    select
        export_plays.export_play_sk as play_sk,
        export_plays.user_sk,
        export_plays.track_sk,
        export_plays.episode_sk,
        {{ spotify_elt.cast_to_contract('context_sk', spotify_elt.unknown_key()) }},
        export_plays.user_id,
        export_plays.ended_at as played_at,
        export_plays.content_type,
        export_plays.ms_played,
        0 as is_ms_played_estimated,
        export_plays.skipped,
        export_plays.shuffle,
        export_plays.reason_start,
        export_plays.reason_end,
        export_plays.platform,
        export_plays.conn_country,
        export_plays.offline,
        export_plays.incognito_mode,
        export_plays.is_video,
        'export' as source,
        export_plays.record_key as export_record_key,
        export_plays.loaded_at
    from export_plays
    left join matches
        on export_plays.export_play_sk = matches.export_play_sk
    where matches.export_play_sk is null

),

plays as (

    select * from api_rows
    union all
    select * from export_rows

),

recomputed as (

    select plays.* from plays
    {%- if spotify_elt.is_incremental_run() %}
    where {{ spotify_elt.in_recomputed_days('plays', 'played_at', 'output_days') }}
    {%- endif %}

),

users as (

    select
        user_id,
        timezone
    from {{ ref('dim_users') }}

),

zoned as (

    select
        recomputed.*,
        coalesce(users.timezone, '{{ spotify_elt.default_time_zone() }}') as timezone
    from recomputed
    left join users
        on recomputed.user_id = users.user_id

),

localised as (

    select
        *,
        {{ spotify_elt.utc_to_local('played_at', 'timezone') }} as played_at_local
    from zoned

),

final as (

    select
        {{ spotify_elt.cast_to_contract('play_sk') }},
        {{ spotify_elt.cast_to_contract('user_sk') }},
        {{ spotify_elt.cast_to_contract('track_sk') }},
        {{ spotify_elt.cast_to_contract('episode_sk') }},
        {{ spotify_elt.cast_to_contract('context_sk') }},
        {{ spotify_elt.cast_to_contract('date_key', spotify_elt.date_key('played_at_local')) }},
        {{ spotify_elt.cast_to_contract('user_id') }},
        {{ spotify_elt.cast_to_contract('played_at') }},
        {{ spotify_elt.cast_to_contract('played_at_local') }},
        {{ spotify_elt.cast_to_contract('timezone') }},
        {{ spotify_elt.cast_to_contract('content_type') }},
        {{ spotify_elt.cast_to_contract('ms_played') }},
        {{ spotify_elt.as_boolean('is_ms_played_estimated = 1') }} as is_ms_played_estimated,
        {{ spotify_elt.as_boolean('ms_played >= 30000') }} as is_counted_stream,
        {{ spotify_elt.cast_to_contract('skipped') }},
        {{ spotify_elt.cast_to_contract('shuffle') }},
        {{ spotify_elt.cast_to_contract('reason_start') }},
        {{ spotify_elt.cast_to_contract('reason_end') }},
        {{ spotify_elt.cast_to_contract('platform') }},
        {{ spotify_elt.cast_to_contract('conn_country') }},
        {{ spotify_elt.cast_to_contract('offline') }},
        {{ spotify_elt.cast_to_contract('incognito_mode') }},
        {{ spotify_elt.cast_to_contract('is_video') }},
        {{ spotify_elt.cast_to_contract('source') }},
        {{ spotify_elt.cast_to_contract('export_record_key') }},
        {{ spotify_elt.cast_to_contract('loaded_at') }},
        {{ spotify_elt.run_timestamp() }} as transformed_at
    from localised

)

select * from final
