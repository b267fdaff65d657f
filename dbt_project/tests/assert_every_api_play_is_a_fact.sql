-- No play is lost between staging and the fact table, whatever the joins on the way.
select
    staged.user_id,
    staged.played_at
from {{ ref('stg_spotify__recently_played') }} as staged
left join {{ ref('fct_plays') }} as facts
    on
        staged.user_id = facts.user_id
        and staged.played_at = facts.played_at
where facts.play_sk is null
