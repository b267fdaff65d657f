{#- Column types. The ones that differ between warehouses come from var('column_types') in
    dbt_project.yml, the one map the contracts read too; the others are the same everywhere. -#}

{% macro column_type(name) %}{{ return(var('column_types')[target.type][name]) }}{% endmacro %}

{% macro type_text() %}{{ return(spotify_elt.column_type('text')) }}{% endmacro %}
{% macro type_key() %}{{ return(spotify_elt.column_type('key')) }}{% endmacro %}
{% macro type_timestamp() %}{{ return(spotify_elt.column_type('timestamp')) }}{% endmacro %}
{% macro type_boolean() %}{{ return(spotify_elt.column_type('boolean')) }}{% endmacro %}
{% macro type_integer() %}{{ return('integer') }}{% endmacro %}
{% macro type_bigint() %}{{ return('bigint') }}{% endmacro %}
{% macro type_date() %}{{ return('date') }}{% endmacro %}

{#- A boolean value from a condition: SQL Server has no boolean expressions in a select list. -#}
{% macro as_boolean(condition) %}{{ return(adapter.dispatch('as_boolean', 'spotify_elt')(condition)) }}{% endmacro %}
{% macro default__as_boolean(condition) %}({{ condition }}){% endmacro %}
{% macro sqlserver__as_boolean(condition) %}cast(case when {{ condition }} then 1 when not ({{ condition }}) then 0 end as {{ spotify_elt.type_boolean() }}){% endmacro %}

{% macro boolean_literal(value) %}{{ return(adapter.dispatch('boolean_literal', 'spotify_elt')(value)) }}{% endmacro %}
{% macro default__boolean_literal(value) %}{{ 'true' if value else 'false' }}{% endmacro %}
{% macro sqlserver__boolean_literal(value) %}cast({{ 1 if value else 0 }} as {{ spotify_elt.type_boolean() }}){% endmacro %}

{#- A test or filter on a boolean column: SQL Server needs `= 1`. -#}
{% macro is_true(column) %}{{ return(adapter.dispatch('is_true', 'spotify_elt')(column)) }}{% endmacro %}
{% macro default__is_true(column) %}{{ column }}{% endmacro %}
{% macro sqlserver__is_true(column) %}{{ column }} = 1{% endmacro %}
