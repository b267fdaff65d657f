{#- The calendar, plus the unknown member: from var dates_start to dates_end, widened to whole
    years around the plays when they reach further (a play's local date, its session's start
    and its week's Monday key into it; a session starts at most 25 days before its play ends,
    and the year before the first play holds both). Names are spelled out in English whatever
    the warehouse's language. -#}
with digits as (

    select digits.digit
    from (values (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) as digits (digit)

),

day_offsets as (

    select
        ones.digit
        + 10 * tens.digit
        + 100 * hundreds.digit
        + 1000 * thousands.digit
        + 10000 * ten_thousands.digit as day_offset
    from digits as ones
    cross join digits as tens
    cross join digits as hundreds
    cross join digits as thousands
    cross join digits as ten_thousands

),

{%- set dates_start = "cast('" ~ var('dates_start') ~ "' as " ~ spotify_elt.type_date() ~ ")" %}
{%- set dates_end = "cast('" ~ var('dates_end') ~ "' as " ~ spotify_elt.type_date() ~ ")" %}

plays as (

    select
        cast(min(played_at_local) as {{ spotify_elt.type_date() }}) as first_play_day,
        cast(max(played_at_local) as {{ spotify_elt.type_date() }}) as last_play_day
    from {{ ref('fct_plays') }}

),

play_years as (

    select
        {{ dbt.dateadd('year', -1, dbt.date_trunc('year', 'first_play_day')) }} as first_day,
        {{ dbt.dateadd('day', -1, dbt.dateadd('year', 2, dbt.date_trunc('year', 'last_play_day'))) }} as last_day
    from plays

),

bounds as (

    {#- CASE, not least()/greatest(): SQL Server has those from 2022 only. #}
    select
        cast(
            case when first_day < {{ dates_start }} then first_day else {{ dates_start }} end
            as {{ spotify_elt.type_date() }}
        ) as first_day,
        cast(
            case when last_day > {{ dates_end }} then last_day else {{ dates_end }} end
            as {{ spotify_elt.type_date() }}
        ) as last_day
    from play_years

),

days as (

    select
        cast(
            {{ dbt.dateadd('day', 'day_offsets.day_offset', 'bounds.first_day') }}
            as {{ spotify_elt.type_date() }}
        ) as date_day
    from day_offsets
    cross join bounds
    where day_offsets.day_offset <= {{ dbt.datediff('bounds.first_day', 'bounds.last_day', 'day') }}

),

parts as (

    select
        date_day,
        {{ spotify_elt.date_part_number('year', 'date_day') }} as year_number,
        {{ spotify_elt.date_part_number('quarter', 'date_day') }} as quarter_number,
        {{ spotify_elt.date_part_number('month', 'date_day') }} as month_number,
        {{ spotify_elt.date_part_number('day', 'date_day') }} as day_of_month,
        {{ spotify_elt.iso_day_of_week('date_day') }} as day_of_week,
        {{ spotify_elt.iso_week('date_day') }} as iso_week
    from days

),

calendar as (

    select
        {{ spotify_elt.cast_to_contract('date_key', 'year_number * 10000 + month_number * 100 + day_of_month') }},
        {{ spotify_elt.cast_to_contract('date_day') }},
        {{ spotify_elt.cast_to_contract('year_number') }},
        {{ spotify_elt.cast_to_contract('quarter_number') }},
        {{ spotify_elt.cast_to_contract('month_number') }},
        cast(
            case month_number
                when 1 then 'January' when 2 then 'February' when 3 then 'March'
                when 4 then 'April' when 5 then 'May' when 6 then 'June'
                when 7 then 'July' when 8 then 'August' when 9 then 'September'
                when 10 then 'October' when 11 then 'November' when 12 then 'December'
            end as {{ spotify_elt.type_text() }}
        ) as month_name,
        {{ spotify_elt.cast_to_contract('day_of_month') }},
        {{ spotify_elt.cast_to_contract('day_of_week') }},
        cast(
            case day_of_week
                when 1 then 'Monday' when 2 then 'Tuesday' when 3 then 'Wednesday'
                when 4 then 'Thursday' when 5 then 'Friday' when 6 then 'Saturday'
                when 7 then 'Sunday'
            end as {{ spotify_elt.type_text() }}
        ) as day_name,
        {{ spotify_elt.cast_to_contract('iso_week') }},
        {{ spotify_elt.as_boolean('day_of_week >= 6') }} as is_weekend
    from parts

),

unknown_member as (

    {{ spotify_elt.unknown_member({'date_key': -1, 'month_name': 'Unknown', 'day_name': 'Unknown'}) }}

),

final as (

    select * from calendar
    union all
    select * from unknown_member

)

select * from final
