-- The grain of fct_plays: one row per user and moment an API play ended. (Export records can
-- share a second: a skip and the next play, or two plays in one Account-data minute.)
select
    user_id,
    played_at,
    count(*) as plays
from {{ ref('fct_plays') }}
where source <> 'export'
group by user_id, played_at
having count(*) > 1
