{#- Building blocks of the analytics marts (models/marts/analytics). -#}

{#- Milliseconds as minutes, two decimals. -#}
{% macro minutes(milliseconds) -%}
    cast({{ milliseconds }} / 60000.0 as decimal(18, 2))
{%- endmacro %}

{#- part / whole as a share with four decimals; null when nothing was counted. -#}
{% macro share(part, whole) -%}
    cast({{ part }} * 1.0 / nullif({{ whole }}, 0) as decimal(9, 4))
{%- endmacro %}

{#- A sum of whole numbers as bigint (DuckDB sums bigints into a 128-bit integer). -#}
{% macro sum_bigint(expression) -%}
    cast(sum({{ expression }}) as {{ spotify_elt.type_bigint() }})
{%- endmacro %}

{#- The day number of a date, so that consecutive days are consecutive integers. -#}
{% macro day_number(date_expression) -%}
    {{ dbt.datediff("cast('2000-01-01' as " ~ spotify_elt.type_date() ~ ")", date_expression, 'day') }}
{%- endmacro %}

{#- The Monday of the ISO week a date is in. -#}
{% macro week_start(date_expression) -%}
    cast({{ dbt.dateadd('day', '1 - ' ~ spotify_elt.iso_day_of_week(date_expression), date_expression) }} as {{ spotify_elt.type_date() }})
{%- endmacro %}

{#- The first day of the month a date is in. -#}
{% macro month_start(date_expression) -%}
    cast({{ dbt.dateadd('day', '1 - ' ~ spotify_elt.date_part_number('day', date_expression), date_expression) }} as {{ spotify_elt.type_date() }})
{%- endmacro %}

{#- The first day of the year a date is in. -#}
{% macro year_start(date_expression) -%}
    cast({{ dbt.dateadd('month', '1 - ' ~ spotify_elt.date_part_number('month', date_expression), spotify_elt.month_start(date_expression)) }} as {{ spotify_elt.type_date() }})
{%- endmacro %}

{#- A timestamp moved back by a number of milliseconds (SQL Server's dateadd takes an int). -#}
{% macro minus_milliseconds(timestamp, milliseconds) -%}
    {{ dbt.dateadd('millisecond', '-cast(' ~ milliseconds ~ ' as ' ~ spotify_elt.type_integer() ~ ')', timestamp) }}
{%- endmacro %}
