{#- Column types of the marts, one name per warehouse. dbt's own type_string() is varchar(8000)
    on SQL Server, which cannot hold Japanese or Arabic names: text must be nvarchar there. -#}

{% macro type_text() %}{{ return(adapter.dispatch('type_text', 'spotify_elt')()) }}{% endmacro %}
{% macro default__type_text() %}{{ return('text') }}{% endmacro %}
{% macro duckdb__type_text() %}{{ return('varchar') }}{% endmacro %}
{% macro sqlserver__type_text() %}{{ return('nvarchar(4000)') }}{% endmacro %}

{#- Long JSON text kept in staging (a track's artists array). -#}
{% macro type_json_text() %}{{ return(adapter.dispatch('type_json_text', 'spotify_elt')()) }}{% endmacro %}
{% macro default__type_json_text() %}{{ return(spotify_elt.type_text()) }}{% endmacro %}
{% macro sqlserver__type_json_text() %}{{ return('nvarchar(max)') }}{% endmacro %}

{#- Surrogate keys: 32 hex digits of an MD5, or the unknown member's '-1'. -#}
{% macro type_key() %}{{ return(adapter.dispatch('type_key', 'spotify_elt')()) }}{% endmacro %}
{% macro default__type_key() %}{{ return('varchar(32)') }}{% endmacro %}
{% macro duckdb__type_key() %}{{ return('varchar') }}{% endmacro %}

{% macro type_timestamp() %}{{ return(adapter.dispatch('type_timestamp', 'spotify_elt')()) }}{% endmacro %}
{% macro default__type_timestamp() %}{{ return('timestamp') }}{% endmacro %}
{% macro sqlserver__type_timestamp() %}{{ return('datetime2(6)') }}{% endmacro %}

{% macro type_boolean() %}{{ return(adapter.dispatch('type_boolean', 'spotify_elt')()) }}{% endmacro %}
{% macro default__type_boolean() %}{{ return('boolean') }}{% endmacro %}
{% macro sqlserver__type_boolean() %}{{ return('bit') }}{% endmacro %}

{% macro type_integer() %}{{ return('integer') }}{% endmacro %}
{% macro type_bigint() %}{{ return('bigint') }}{% endmacro %}
{% macro type_date() %}{{ return('date') }}{% endmacro %}

{#- A boolean value from a condition: SQL Server has no boolean expressions in a select list. -#}
{% macro as_boolean(condition) %}{{ return(adapter.dispatch('as_boolean', 'spotify_elt')(condition)) }}{% endmacro %}
{% macro default__as_boolean(condition) %}({{ condition }}){% endmacro %}
{% macro sqlserver__as_boolean(condition) %}cast(case when {{ condition }} then 1 when not ({{ condition }}) then 0 end as bit){% endmacro %}

{% macro boolean_literal(value) %}{{ return(adapter.dispatch('boolean_literal', 'spotify_elt')(value)) }}{% endmacro %}
{% macro default__boolean_literal(value) %}{{ 'true' if value else 'false' }}{% endmacro %}
{% macro sqlserver__boolean_literal(value) %}cast({{ 1 if value else 0 }} as bit){% endmacro %}

{#- A test or filter on a boolean column: SQL Server needs `= 1`. -#}
{% macro is_true(column) %}{{ return(adapter.dispatch('is_true', 'spotify_elt')(column)) }}{% endmacro %}
{% macro default__is_true(column) %}{{ column }}{% endmacro %}
{% macro sqlserver__is_true(column) %}{{ column }} = 1{% endmacro %}
