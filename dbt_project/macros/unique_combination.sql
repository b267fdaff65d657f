{#- Generic test: no two rows share the values of `columns` (dbt has no built-in for a compound
    key, and hub packages are out of reach). -#}
{% test unique_combination(model, columns) %}
    select
        {{ columns | join(', ') }},
        count(*) as row_count
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}
