{#- The contract of the model being built is where its column types are written: the casts of
    its last select and its unknown member come from there, not from a second copy in SQL. -#}

{#- The model's contract columns in YAML order, each with its rendered data_type. Empty while
    dbt parses (nothing runs then). -#}
{% macro contract_columns() %}
    {%- if not execute -%}
        {{ return({}) }}
    {%- endif -%}
    {%- if model.resource_type != 'unit_test' -%}
        {{ return(model.columns) }}
    {%- endif -%}
    {#- dbt gives a unit test neither the tested model's contract nor the project's graph: the
        types are those of the tested model as built, which the contract made them (dbt reads
        the types of a unit test's built inputs the same way). -#}
    {%- set name = model.tested_node_unique_id.split('.')[-1] -%}
    {%- set relation = adapter.get_relation(database=model.database, schema=model.schema, identifier=name) -%}
    {%- if relation is none -%}
        {{ exceptions.raise_compiler_error("unit test of " ~ name ~ ": build the model before its unit tests (its column types are read from it)") }}
    {%- endif -%}
    {%- set columns = {} -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
        {%- do columns.update({column.name | lower: {'name': column.name | lower, 'data_type': column.data_type}}) -%}
    {%- endfor -%}
    {{ return(columns) }}
{% endmacro %}

{#- The data type the contract gives `column`. -#}
{% macro contract_type(column) %}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set columns = spotify_elt.contract_columns() -%}
    {%- if column not in columns or not columns[column].data_type -%}
        {{ exceptions.raise_compiler_error(model.name ~ ": the contract has no data_type for column " ~ column) }}
    {%- endif -%}
    {{ return(columns[column].data_type) }}
{% endmacro %}

{#- `expression` (by default the column of that name) cast to the contract's type of `column`,
    named `column`. -#}
{% macro cast_to_contract(column, expression=none) -%}
    cast({{ expression if expression is not none else column }} as {{ spotify_elt.contract_type(column) }}) as {{ column }}
{%- endmacro %}

{#- The dimension's unknown member, one row in contract order: the key columns (*_sk) are
    unknown_key(), the rest null, each cast to its contract type. `values` overrides columns
    with a literal: text is quoted, numbers are written as they are, none is null. -#}
{% macro unknown_member(values={}) -%}
    {%- set columns = spotify_elt.contract_columns() -%}
    select
    {%- for name, column in columns.items() %}
        {%- if name in values %}
            {%- set value = values[name] %}
            {%- if value is none %}{% set literal = 'null' %}
            {%- elif value is string %}{% set literal = "'" ~ value | replace("'", "''") ~ "'" %}
            {%- else %}{% set literal = value %}{% endif %}
        {%- elif name.endswith('_sk') %}
            {%- set literal = spotify_elt.unknown_key() %}
        {%- else %}
            {%- set literal = 'null' %}
        {%- endif %}
        cast({{ literal }} as {{ column.data_type }}) as {{ name }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}
