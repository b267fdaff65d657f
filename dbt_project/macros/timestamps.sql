{#- Time: every timestamp in the warehouse is UTC without a zone; local time is derived. -#}

{#- An ISO-8601 UTC timestamp as Spotify writes it, with or without milliseconds
    ('2026-10-05T07:12:33.123Z' or '2026-10-05T07:12:33Z'). Anything else is an error. -#}
{% macro parse_iso_timestamp(text) %}{{ return(adapter.dispatch('parse_iso_timestamp', 'spotify_elt')(text)) }}{% endmacro %}

{% macro default__parse_iso_timestamp(text) -%}
    cast(replace(replace({{ text }}, 'T', ' '), 'Z', '') as {{ spotify_elt.type_timestamp() }})
{%- endmacro %}

{% macro duckdb__parse_iso_timestamp(text) -%}
    strptime({{ text }}, ['%Y-%m-%dT%H:%M:%S.%fZ', '%Y-%m-%dT%H:%M:%SZ'])
{%- endmacro %}

{% macro postgres__parse_iso_timestamp(text) -%}
    (cast({{ text }} as timestamptz) at time zone 'UTC')
{%- endmacro %}

{#- Style 127 is ISO 8601 with a Z. -#}
{% macro sqlserver__parse_iso_timestamp(text) -%}
    convert({{ spotify_elt.type_timestamp() }}, {{ text }}, 127)
{%- endmacro %}


{#- The same instant as text, 'YYYY-MM-DDTHH:MM:SS.ffffffZ' on every warehouse (for keys). -#}
{% macro format_iso_timestamp(timestamp) %}{{ return(adapter.dispatch('format_iso_timestamp', 'spotify_elt')(timestamp)) }}{% endmacro %}

{% macro default__format_iso_timestamp(timestamp) -%}
    to_char({{ timestamp }}, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
{%- endmacro %}

{% macro duckdb__format_iso_timestamp(timestamp) -%}
    strftime({{ timestamp }}, '%Y-%m-%dT%H:%M:%S.%fZ')
{%- endmacro %}

{#- Style 126 drops a zero fraction, so the microseconds are written out separately. -#}
{% macro sqlserver__format_iso_timestamp(timestamp) -%}
    concat(convert(varchar(19), {{ timestamp }}, 126), '.', right(concat('000000', datepart(microsecond, {{ timestamp }})), 6), 'Z')
{%- endmacro %}


{#- A UTC timestamp as wall-clock time in an IANA time zone (a column or a quoted literal),
    DST-correct: an hour that happens twice maps each UTC instant to its own local time. -#}
{% macro utc_to_local(timestamp, timezone) %}{{ return(adapter.dispatch('utc_to_local', 'spotify_elt')(timestamp, timezone)) }}{% endmacro %}

{#- SQL standard AT TIME ZONE (PostgreSQL's semantics). -#}
{% macro default__utc_to_local(timestamp, timezone) -%}
    (({{ timestamp }} at time zone 'UTC') at time zone {{ timezone }})
{%- endmacro %}

{#- timezone('UTC', ts) reads the naive value as UTC (whatever the session's zone), and
    timezone(zone, timestamptz) gives the wall clock there. ICU is built into DuckDB's wheel. -#}
{% macro duckdb__utc_to_local(timestamp, timezone) -%}
    timezone({{ timezone }}, timezone('UTC', {{ timestamp }}))
{%- endmacro %}

{#- SQL Server knows Windows zone names only: the IANA names configured for this project are
    translated here (CLDR's table, macros/windows_time_zones.sql). -#}
{% macro sqlserver__utc_to_local(timestamp, timezone) -%}
    {%- set windows_names = spotify_elt.windows_time_zones() -%}
    cast(({{ timestamp }} at time zone 'UTC') at time zone case {{ timezone }}
        {%- for zone in spotify_elt.configured_time_zones() %}
        when '{{ zone }}' then '{{ windows_names[zone] }}'
        {%- endfor %}
    end as {{ spotify_elt.type_timestamp() }})
{%- endmacro %}


{#- An integer part of a date or timestamp: year, quarter, month, day. -#}
{% macro date_part_number(part, expression) %}{{ return(adapter.dispatch('date_part_number', 'spotify_elt')(part, expression)) }}{% endmacro %}
{% macro default__date_part_number(part, expression) %}cast(extract({{ part }} from {{ expression }}) as integer){% endmacro %}
{% macro sqlserver__date_part_number(part, expression) %}datepart({{ part }}, {{ expression }}){% endmacro %}

{#- ISO day of the week: Monday 1 ... Sunday 7. -#}
{% macro iso_day_of_week(expression) %}{{ return(adapter.dispatch('iso_day_of_week', 'spotify_elt')(expression)) }}{% endmacro %}
{% macro default__iso_day_of_week(expression) %}cast(extract(isodow from {{ expression }}) as integer){% endmacro %}
{#- datepart(weekday) depends on the session's DATEFIRST; this form does not. -#}
{% macro sqlserver__iso_day_of_week(expression) %}((datepart(weekday, {{ expression }}) + @@datefirst - 2) % 7 + 1){% endmacro %}

{#- ISO 8601 week number. -#}
{% macro iso_week(expression) %}{{ return(adapter.dispatch('iso_week', 'spotify_elt')(expression)) }}{% endmacro %}
{% macro default__iso_week(expression) %}cast(extract(week from {{ expression }}) as integer){% endmacro %}
{% macro sqlserver__iso_week(expression) %}datepart(iso_week, {{ expression }}){% endmacro %}

{#- The yyyymmdd integer that keys dim_dates. -#}
{% macro date_key(expression) -%}
    ({{ spotify_elt.date_part_number('year', expression) }} * 10000 + {{ spotify_elt.date_part_number('month', expression) }} * 100 + {{ spotify_elt.date_part_number('day', expression) }})
{%- endmacro %}
