-- Local time is never more than 14 hours from UTC (UTC-12 to UTC+14 are the extremes).
select
    play_sk,
    played_at,
    played_at_local
from {{ ref('fct_plays') }}
where
    {{ dbt.datediff('played_at', 'played_at_local', 'minute') }} > 14 * 60
    or {{ dbt.datediff('played_at', 'played_at_local', 'minute') }} < -14 * 60
