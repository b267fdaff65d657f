-- A play cannot last less than nothing.
select
    play_sk,
    ms_played
from {{ ref('fct_plays') }}
where ms_played < 0
