{#- Hashed surrogate keys: lower-case hex MD5 of the UTF-8 text of the natural key, so a key is
    the same on DuckDB, PostgreSQL and SQL Server and never depends on load order. -#}

{% macro unknown_key() %}'-1'{% endmacro %}

{#- The key of a list of columns (nulls hash as empty text, parts joined by '|'). -#}
{% macro surrogate_key(fields) %}{{ return(adapter.dispatch('surrogate_key', 'spotify_elt')(fields)) }}{% endmacro %}

{% macro default__surrogate_key(fields) -%}
    {%- set parts = [] -%}
    {%- for field in fields -%}
        {%- do parts.append("coalesce(cast(" ~ field ~ " as " ~ spotify_elt.type_text() ~ "), '')") -%}
        {%- if not loop.last %}{% do parts.append("'|'") %}{% endif -%}
    {%- endfor -%}
    md5({{ dbt.concat(parts) }})
{%- endmacro %}

{#- dbt-sqlserver's hash() converts to varchar(8000) in the database's code page first, which
    turns every CJK or Arabic name into '?'s and makes different local files collide. Converting
    through a UTF-8 collation (SQL Server 2019+) hashes the same bytes as the other warehouses. -#}
{% macro sqlserver__surrogate_key(fields) -%}
    {%- set parts = [] -%}
    {%- for field in fields -%}
        {%- do parts.append("coalesce(cast(" ~ field ~ " as nvarchar(max)), N'')") -%}
        {%- if not loop.last %}{% do parts.append("N'|'") %}{% endif -%}
    {%- endfor -%}
    {#- CONCAT takes 2 to 254 arguments on SQL Server: one key column goes in as it is. -#}
    {%- set text = parts[0] if parts | length == 1 else 'concat(' ~ parts | join(', ') ~ ')' -%}
    lower(convert({{ spotify_elt.type_key() }}, hashbytes('MD5', convert(varchar(max), {{ text }} collate Latin1_General_100_BIN2_UTF8)), 2))
{%- endmacro %}

{#- The key of a dimension member, or the unknown member's when the natural key is missing. -#}
{% macro dimension_key(natural_key) -%}
    case when {{ natural_key }} is null then {{ spotify_elt.unknown_key() }} else {{ spotify_elt.surrogate_key([natural_key]) }} end
{%- endmacro %}
