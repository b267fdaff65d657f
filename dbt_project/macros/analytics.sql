{#- Building blocks of the analytics marts (models/marts/analytics). -#}

{#- Milliseconds as minutes, two decimals. -#}
{% macro minutes(milliseconds) -%}
    cast({{ milliseconds }} / 60000.0 as {{ spotify_elt.column_type('minutes') }})
{%- endmacro %}

{#- part / whole as a share with four decimals; null when nothing was counted. -#}
{% macro share(part, whole) -%}
    cast({{ part }} * 1.0 / nullif({{ whole }}, 0) as {{ spotify_elt.column_type('share') }})
{%- endmacro %}

{#- A sum of whole numbers as bigint (DuckDB sums bigints into a 128-bit integer). -#}
{% macro sum_bigint(expression) -%}
    cast(sum({{ expression }}) as {{ spotify_elt.type_bigint() }})
{%- endmacro %}

{#- The day number of a date, so that consecutive days are consecutive integers. -#}
{% macro day_number(date_expression) -%}
    {{ dbt.datediff("cast('2000-01-01' as " ~ spotify_elt.type_date() ~ ")", date_expression, 'day') }}
{%- endmacro %}

{#- The Monday of the ISO week a date is in. -#}
{% macro week_start(date_expression) -%}
    cast({{ dbt.dateadd('day', '1 - ' ~ spotify_elt.iso_day_of_week(date_expression), date_expression) }} as {{ spotify_elt.type_date() }})
{%- endmacro %}

{#- The first day of the month a date is in. -#}
{% macro month_start(date_expression) -%}
    cast({{ dbt.dateadd('day', '1 - ' ~ spotify_elt.date_part_number('day', date_expression), date_expression) }} as {{ spotify_elt.type_date() }})
{%- endmacro %}

{#- The first day of the year a date is in. -#}
{% macro year_start(date_expression) -%}
    cast({{ dbt.dateadd('month', '1 - ' ~ spotify_elt.date_part_number('month', date_expression), spotify_elt.month_start(date_expression)) }} as {{ spotify_elt.type_date() }})
{%- endmacro %}

{#- A timestamp moved back by a number of milliseconds (SQL Server's dateadd takes an int). -#}
{% macro minus_milliseconds(timestamp, milliseconds) -%}
    {{ dbt.dateadd('millisecond', '-cast(' ~ milliseconds ~ ' as ' ~ spotify_elt.type_integer() ~ ')', timestamp) }}
{%- endmacro %}

{#- ---- Incremental analytics marts ------------------------------------------------------------

    The analytics marts that follow the history (the daily marts, sessions, discoveries, artist
    streaks) redo (listener, local day) windows instead of the whole table, so that a run's cost
    follows what changed. Each keeps `transformed_at`, the time of the run that wrote the row;
    fct_plays and analytics_track_attribution keep it too. A run redoes:
    - every local day with a fct_plays row written since the mart's newest row, and the day
      either side: a row that fct_plays drops (an export record now merged with its API play, an
      Account-data row now covered by Extended history) lies within a minute or so of the row
      that replaces it. A listener whose time zone changed has every row rewritten, so every day;
    - every day with a play of a track whose album or credits changed since
      (analytics_track_attribution): a track first known from the privacy export gets its album and
      full credits when the API first plays it.
    A pre-hook deletes what the windows cover, so a row that has nothing behind it any more goes
    too; the model then writes the windows again. Its windows are read after the delete, from
    an older newest row, so they can only be more: the marts are delete+insert on their key,
    and a window written twice is replaced, not doubled. -#}

{#- The time this dbt run started (UTC), as the rows it writes record it. -#}
{% macro run_timestamp() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ spotify_elt.type_timestamp() }})
{%- endmacro %}

{#- The newest transformed_at of the mart being built (1900 when it is empty). -#}
{% macro mart_watermark() -%}
    (
        select coalesce(max(transformed_at), cast('1900-01-01' as {{ spotify_elt.type_timestamp() }}))
        from {{ this }}
    )
{%- endmacro %}

{#- (user_id, listening_date) of every window the mart being built must redo. -#}
{% macro analytics_windows(with_attribution=true) -%}
    select distinct
        written.user_id,
        cast({{ dbt.dateadd('day', 'shifts.shift', 'written.listening_date') }} as {{ spotify_elt.type_date() }}) as listening_date
    from (
        select distinct
            user_id,
            cast(played_at_local as {{ spotify_elt.type_date() }}) as listening_date
        from {{ ref('fct_plays') }}
        where transformed_at > {{ spotify_elt.mart_watermark() }}
    ) as written
    cross join (
        select -1 as shift
        union all
        select 0 as shift
        union all
        select 1 as shift
    ) as shifts
    {%- if with_attribution %}
    union
    select distinct
        plays.user_id,
        cast(plays.played_at_local as {{ spotify_elt.type_date() }}) as listening_date
    from {{ ref('fct_plays') }} as plays
    inner join {{ ref('analytics_track_attribution') }} as attribution
        on plays.track_sk = attribution.track_sk
    where attribution.transformed_at > {{ spotify_elt.mart_watermark() }}
    {%- endif %}
{%- endmacro %}

{#- The condition that the row `alias` (its user_id, and its local date: listening_date unless
    `local_date` says otherwise) lies in one of the windows: the CTE `windows`, or the subquery
    `source` named so. -#}
{% macro in_windows(alias, local_date=none, source=none) -%}
    exists (
        select 1 from {{ source ~ ' as windows' if source else 'windows' }}
        where
            windows.user_id = {{ alias }}.user_id
            and windows.listening_date = {{ local_date or alias ~ '.listening_date' }}
    )
{%- endmacro %}

{#- The pre-hook of a daily mart: its rows in the windows go. -#}
{% macro delete_analytics_windows(with_attribution=true) -%}
    {{ return(spotify_elt.delete_where(
        spotify_elt.in_windows('facts', source='(' ~ spotify_elt.analytics_windows(with_attribution) ~ ')')
    )) }}
{%- endmacro %}

{#- The pre-hook of fct_listening_sessions: each listener's sessions that end on or after two
    days (and a session gap) before their earliest window go. A local day starts at most 14
    hours before the UTC one, so every session that can reach a window goes, and the listener's
    sessions that remain all end more than a gap before any play the model puts after them. -#}
{% macro delete_sessions_from_windows() -%}
    {%- set before_minutes = (var('session_gap_minutes') | int) + 2 * 24 * 60 %}
    {{ return(spotify_elt.delete_where(
        'exists (select 1 from (select windows.user_id, min(windows.listening_date) as first_date from ('
        ~ spotify_elt.analytics_windows(with_attribution=false)
        ~ ') as windows group by windows.user_id) as firsts where firsts.user_id = facts.user_id and facts.ended_at >= '
        ~ dbt.dateadd('minute', -before_minutes, 'cast(firsts.first_date as ' ~ spotify_elt.type_timestamp() ~ ')')
        ~ ')'
    )) }}
{%- endmacro %}

{#- The pre-hook of fct_discoveries: the discoveries dated in a window, and those of every
    listener and item with a row of the daily track or artist mart in one (its first stream or
    its total may have changed), go. -#}
{% macro delete_changed_discoveries() -%}
    {%- set windows = '(' ~ spotify_elt.analytics_windows() ~ ')' %}
    {%- set condition %}
        {{ spotify_elt.in_windows(
            'facts',
            local_date='cast(facts.first_played_at_local as ' ~ spotify_elt.type_date() ~ ')',
            source=windows,
        ) }}
        {%- for item_type, mart in [('track', 'agg_daily_track_listening'), ('artist', 'agg_daily_artist_listening')] %}
        or (
            facts.discovery_type = '{{ item_type }}'
            and exists (
                select 1 from {{ ref(mart) }} as item_days
                where
                    item_days.user_id = facts.user_id
                    and item_days.{{ item_type }}_sk = facts.{{ item_type }}_sk
                    and {{ spotify_elt.in_windows('item_days', source=windows) }}
            )
        )
        {%- endfor %}
    {%- endset %}
    {{ return(spotify_elt.delete_where(condition)) }}
{%- endmacro %}

{#- Listener and artist pairs whose streaks fct_artist_streaks redoes: every pair with a day in
    the daily artist mart on or next to a window. A streak that loses a day in a window either
    ends or goes on next to it, where its artist still has a day. -#}
{% macro artist_streak_pairs(windows) -%}
    select distinct
        artist_days.user_id,
        artist_days.artist_sk
    from {{ ref('agg_daily_artist_listening') }} as artist_days
    where exists (
        select 1 from {{ windows }} as windows
        where
            windows.user_id = artist_days.user_id
            and windows.listening_date >= {{ dbt.dateadd('day', -1, 'artist_days.listening_date') }}
            and windows.listening_date <= {{ dbt.dateadd('day', 1, 'artist_days.listening_date') }}
    )
{%- endmacro %}

{#- The pre-hook of fct_artist_streaks: the streaks of those pairs, and every streak with a day
    in a window, go. -#}
{% macro delete_changed_artist_streaks() -%}
    {%- set windows = '(' ~ spotify_elt.analytics_windows() ~ ')' %}
    {%- set condition %}
        exists (
            select 1 from ({{ spotify_elt.artist_streak_pairs(windows) }}) as pairs
            where pairs.user_id = facts.user_id and pairs.artist_sk = facts.artist_sk
        )
        or exists (
            select 1 from {{ windows }} as windows
            where
                windows.user_id = facts.user_id
                and windows.listening_date >= facts.started_on_date
                and windows.listening_date <= facts.ended_on_date
        )
    {%- endset %}
    {{ return(spotify_elt.delete_where(condition)) }}
{%- endmacro %}
