{#- Incremental models take the rows loaded since their newest row, less a look-back that covers
    loads committing out of order (two users' extracts, an import running alongside a poll).
    Rows seen twice are replaced, not duplicated: every incremental model is delete+insert on
    its key. The cost of a run follows what is new, not the length of the history. -#}

{#- is_incremental() asks the warehouse whether the table exists. With the var
    `offline_incremental_compile` the incremental form is rendered without asking, so that
    `dbt compile --target sqlserver` works (and its T-SQL can be checked) with no server. -#}
{% macro is_incremental_run() -%}
    {{ return(var('offline_incremental_compile', false) or is_incremental()) }}
{%- endmacro %}

{#- `or_also`: a condition that selects more rows to redo (fct_plays: a user whose zone changed). -#}
{% macro where_loaded_since_last_run(column='loaded_at', this_column='loaded_at', or_also=none) -%}
    {%- if spotify_elt.is_incremental_run() %}
    where {{ column }} > (
        select {{ dbt.dateadd('minute', -1 * var('incremental_lookback_minutes') | int, "coalesce(max(" ~ this_column ~ "), cast('1900-01-01' as " ~ spotify_elt.type_timestamp() ~ "))") }}
        from {{ this }}
    )
    {%- if or_also %}
    or {{ or_also }}
    {%- endif %}
    {%- endif -%}
{%- endmacro %}

{#- How much a row's source is trusted, best first: the API's metadata over the export's names. -#}
{% macro source_rank(known_from) -%}
    case when {{ known_from }} = 'api' then 0 else 1 end
{%- endmacro %}

{#- The rows of `candidates` whose play is at least as recent as the one behind the row they
    would replace. A dimension keeps the attributes of its latest play: a play that arrives late
    (a slow poll, an export import) must not overwrite them with older ones.
    With `by_source`, rows have `known_from` ('api' or 'export'): what the API says about an item
    replaces what only the export said (names only), however old the API play. -#}
{% macro newer_than_current(candidates, key, by_source=false) -%}
    select candidates.*
    from {{ candidates }} as candidates
    {%- if spotify_elt.is_incremental_run() %}
    left join (
        select
            {{ key }},
            {%- if by_source %}
            min({{ spotify_elt.source_rank('known_from') }}) as source_rank,
            {%- endif %}
            max(last_played_at) as last_played_at
        from {{ this }}
        group by {{ key }}
    ) as current_rows
        on candidates.{{ key }} = current_rows.{{ key }}
    where
        current_rows.last_played_at is null
        {%- if by_source %}
        or {{ spotify_elt.source_rank('candidates.known_from') }} < current_rows.source_rank
        or (
            {{ spotify_elt.source_rank('candidates.known_from') }} = current_rows.source_rank
            and candidates.last_played_at >= current_rows.last_played_at
        )
        {%- else %}
        or candidates.last_played_at >= current_rows.last_played_at
        {%- endif %}
    {%- endif -%}
{%- endmacro %}

{#- The pre-hook of a dimension that takes members from the privacy export as well as the API.
    Whether an item is known only from the export changes as API plays arrive (its URI turns
    up, or its artist and title come to name one URI), so those rows are derived anew from the
    whole export on every run, while API rows stay incremental. -#}
{% macro delete_export_members() -%}
    {%- if is_incremental() -%}
    delete from {{ this }} where known_from = 'export'
    {%- endif -%}
{%- endmacro %}

{#- A pre-hook: on an incremental run, delete the model's rows where `condition` holds; the
    condition names the row `facts`. -#}
{% macro delete_where(condition) -%}
    {%- if is_incremental() -%}
        {{ return(adapter.dispatch('delete_where', 'spotify_elt')(condition)) }}
    {%- endif -%}
{%- endmacro %}

{% macro default__delete_where(condition) -%}
    delete from {{ this }} as facts
    where {{ condition }}
{%- endmacro %}

{#- T-SQL names the alias, not the table, after `delete`. -#}
{% macro sqlserver__delete_where(condition) -%}
    delete facts
    from {{ this }} as facts
    where {{ condition }}
{%- endmacro %}
