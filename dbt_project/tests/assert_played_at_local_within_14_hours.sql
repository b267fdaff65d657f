-- Local time is never more than 14 hours from UTC (UTC-12 to UTC+14 are the extremes).
select
    play_sk,
    played_at,
    played_at_local
from {{ ref('fct_plays') }}
{%- set offset_minutes = dbt.datediff('played_at', 'played_at_local', 'minute') %}
where {{ offset_minutes }} > 14 * 60 or {{ offset_minutes }} < -14 * 60
