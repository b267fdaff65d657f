-- The grain of fct_plays: one row per user and moment a play ended.
select
    user_id,
    played_at,
    count(*) as plays
from {{ ref('fct_plays') }}
group by user_id, played_at
having count(*) > 1
