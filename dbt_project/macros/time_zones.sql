{#- Each user's time zone comes from the project's configuration
    (docs/configuration.md#time-zones): SPOTIFY_ELT_TIMEZONE is everyone's default,
    SPOTIFY_ELT_USER_TIMEZONES names exceptions as "user_id=Zone,user_id=Zone". Both reach dbt
    as vars. `spotify-elt` checks the names before
    dbt runs; plain dbt (or Cosmos) meets a wrong name as a warehouse error, or on SQL Server as
    the compile error below. -#}

{% macro default_time_zone() -%}
    {{ return(var('default_timezone') | trim or 'UTC') }}
{%- endmacro %}

{#- {user_id: zone} from the user_timezones var. -#}
{% macro user_time_zones() -%}
    {%- set zones = {} -%}
    {%- for entry in (var('user_timezones') | string).split(',') if entry | trim -%}
        {%- if '=' not in entry -%}
            {{ exceptions.raise_compiler_error("user_timezones: expected user_id=Zone, got '" ~ entry | trim ~ "'") }}
        {%- endif -%}
        {%- set user_id, zone = entry.split('=', 1) -%}
        {%- do zones.update({user_id | trim: zone | trim}) -%}
    {%- endfor -%}
    {{ return(zones) }}
{%- endmacro %}

{#- Every zone a user may be in, the default first. -#}
{% macro configured_time_zones() -%}
    {%- set zones = [spotify_elt.default_time_zone()] -%}
    {%- for zone in spotify_elt.user_time_zones().values() if zone not in zones -%}
        {%- do zones.append(zone) -%}
    {%- endfor -%}
    {%- if target.type == 'sqlserver' -%}
        {%- for zone in zones if zone not in spotify_elt.windows_time_zones() -%}
            {{ exceptions.raise_compiler_error("time zone '" ~ zone ~ "' has no SQL Server (Windows) name") }}
        {%- endfor -%}
    {%- endif -%}
    {{ return(zones) }}
{%- endmacro %}

{#- The configured users and their zones as rows (user_id, timezone). -#}
{% macro configured_user_time_zones() -%}
    {%- set zones = spotify_elt.user_time_zones() -%}
    {%- if zones -%}
        {%- for user_id, zone in zones.items() %}
    select
        cast('{{ dbt.escape_single_quotes(user_id) }}' as {{ spotify_elt.type_text() }}) as user_id,
        cast('{{ dbt.escape_single_quotes(zone) }}' as {{ spotify_elt.type_text() }}) as timezone
        {%- if not loop.last %}
    union all
        {%- endif -%}
        {%- endfor -%}
    {%- else %}
    select
        cast(null as {{ spotify_elt.type_text() }}) as user_id,
        cast(null as {{ spotify_elt.type_text() }}) as timezone
    where 1 = 0
    {%- endif -%}
{%- endmacro %}
