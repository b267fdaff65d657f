{#- Layers land in schemas named for them (staging, intermediate, marts): `marts.fct_plays` is a
    public name (docs/warehouse.md), so dbt's default `<target schema>_<custom schema>` would
    break it. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
