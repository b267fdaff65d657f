{#- fct_plays is recomputed by (user, UTC day) windows. An API play and the export record of
    the same play end seconds apart, so they can fall on either side of midnight: a run redoes
    every day that has a play loaded since the table's newest row, and the day either side, and
    reads one more day either side to pair the plays on those days. The windows are deleted
    before the insert (delete_recomputed_plays), so a row that a new pairing makes obsolete (an
    export-only row now merged, an Account row now covered by Extended history) goes too. -#}

{#- (user_id, played_on) of every play loaded since the last run, moved by each of `shifts` days. -#}
{% macro changed_play_days(shifts) -%}
    select distinct
        changed.user_id,
        cast({{ dbt.dateadd('day', 'shifts.shift', 'changed.played_on') }} as {{ spotify_elt.type_date() }}) as played_on
    from (
        select
            user_id,
            cast(played_at as {{ spotify_elt.type_date() }}) as played_on
        from {{ ref('int_plays_keyed') }}
        {{ spotify_elt.where_loaded_since_last_run() }}
        union
        select
            user_id,
            cast(ended_at as {{ spotify_elt.type_date() }}) as played_on
        from {{ ref('int_export_plays') }}
        {{ spotify_elt.where_loaded_since_last_run() }}
    ) as changed
    cross join (
        {%- for shift in shifts %}
        select {{ shift }} as shift{{ ' union all' if not loop.last }}
        {%- endfor %}
    ) as shifts
{%- endmacro %}

{#- The condition that a row (`alias`, its time in `time_column`) is recomputed: its user's
    zone changed, or its UTC day is one of `days` (a CTE of user_id, played_on). -#}
{% macro in_recomputed_days(alias, time_column, days) -%}
    (
        {{ alias }}.user_id in (select rezoned_users.user_id from rezoned_users)
        or exists (
            select 1 from {{ days }}
            where
                {{ days }}.user_id = {{ alias }}.user_id
                and {{ days }}.played_on = cast({{ alias }}.{{ time_column }} as {{ spotify_elt.type_date() }})
        )
    )
{%- endmacro %}

{#- Users whose configured zone is no longer the one their plays are in: all their plays are
    redone. Only the pre-hook can ask this: the model runs after its delete (fct_plays.sql). -#}
{% macro rezoned_users() -%}
    select distinct plays.user_id
    from {{ this }} as plays
    inner join {{ ref('dim_users') }} as users
        on plays.user_id = users.user_id
    where plays.timezone <> users.timezone
{%- endmacro %}

{#- The pre-hook of an incremental fct_plays run: the windows it is about to recompute go first. -#}
{% macro delete_recomputed_plays() -%}
    {{ return(spotify_elt.delete_where(
        'facts.user_id in (' ~ spotify_elt.rezoned_users() ~ ') or exists (select 1 from ('
        ~ spotify_elt.changed_play_days([-1, 0, 1])
        ~ ') as windows where windows.user_id = facts.user_id and windows.played_on = cast(facts.played_at as '
        ~ spotify_elt.type_date() ~ '))'
    )) }}
{%- endmacro %}

{#- Milliseconds from `first` to `second` (SQL Server's datediff is an int: _big for safety). -#}
{% macro milliseconds_between(first, second) %}{{ return(adapter.dispatch('milliseconds_between', 'spotify_elt')(first, second)) }}{% endmacro %}
{% macro default__milliseconds_between(first, second) %}{{ dbt.datediff(first, second, 'millisecond') }}{% endmacro %}
{% macro sqlserver__milliseconds_between(first, second) %}datediff_big(millisecond, {{ first }}, {{ second }}){% endmacro %}

{#- Whole minutes since 2000 (a fixed origin, so the same instant gives the same number everywhere). -#}
{% macro minutes_since_2000(timestamp) -%}
    {{ dbt.datediff("cast('2000-01-01 00:00:00' as " ~ spotify_elt.type_timestamp() ~ ")", timestamp, 'minute') }}
{%- endmacro %}
