-- Every export record that is a play is in fct_plays exactly once, merged or on its own.
select
    export_plays.user_id,
    export_plays.record_key,
    count(facts.play_sk) as facts
from {{ ref('int_export_plays') }} as export_plays
left join {{ ref('fct_plays') }} as facts
    on
        export_plays.user_id = facts.user_id
        and export_plays.record_key = facts.export_record_key
group by export_plays.user_id, export_plays.record_key
having count(facts.play_sk) <> 1
