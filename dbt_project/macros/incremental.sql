{#- Incremental models take the rows loaded since their newest row, less a look-back that covers
    loads committing out of order (two users' extracts, an import running alongside a poll).
    Rows seen twice are replaced, not duplicated: every incremental model is delete+insert on
    its key. The cost of a run follows what is new, not the length of the history. -#}
{% macro where_loaded_since_last_run(column='loaded_at', this_column='loaded_at') -%}
    {%- if is_incremental() %}
    where {{ column }} > (
        select {{ dbt.dateadd('minute', -1 * var('incremental_lookback_minutes') | int, "coalesce(max(" ~ this_column ~ "), cast('1900-01-01' as " ~ spotify_elt.type_timestamp() ~ "))") }}
        from {{ this }}
    )
    {%- endif -%}
{%- endmacro %}
