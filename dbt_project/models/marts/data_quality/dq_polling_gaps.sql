{#- Periods polling may have missed, and whether a privacy export has filled them since. A poll
    that finds more new plays than the API's 50 has lost the oldest ones: the period from the
    newest play seen before it (its watermark) to the oldest play it returned is a gap. An
    import whose records span the whole period fills it: the export holds every play, so the
    lost ones are in fct_plays as `export` rows (counted here). -#}
with gaps as (

    select
        batch_id,
        user_id,
        started_at as detected_at,
        watermark_before as gap_from,
        oldest_played_at as gap_to
    from {{ ref('stg_spotify__load_batches') }}
    where {{ spotify_elt.is_true('gap_suspected') }}

),

imports as (

    select * from {{ ref('dq_import_records') }}

),

fillers as (

    select
        gaps.batch_id,
        min(imports.batch_id) as filled_by_batch_id
    from gaps
    inner join imports
        on
            gaps.user_id = imports.user_id
            and coalesce(gaps.gap_from, imports.first_ended_at) >= imports.first_ended_at
            and gaps.gap_to <= imports.last_ended_at
    group by gaps.batch_id

),

recovered as (

    select
        gaps.batch_id,
        count(*) as plays_recovered
    from gaps
    inner join {{ ref('fct_plays') }} as facts
        on
            gaps.user_id = facts.user_id
            and coalesce(gaps.gap_from, facts.played_at) < facts.played_at
            and gaps.gap_to > facts.played_at
            and facts.source = 'export'
    group by gaps.batch_id

),

final as (

    select
        {{ spotify_elt.cast_to_contract('batch_id', 'gaps.batch_id') }},
        {{ spotify_elt.cast_to_contract('user_id', 'gaps.user_id') }},
        {{ spotify_elt.cast_to_contract('detected_at', 'gaps.detected_at') }},
        {{ spotify_elt.cast_to_contract('gap_from', 'gaps.gap_from') }},
        {{ spotify_elt.cast_to_contract('gap_to', 'gaps.gap_to') }},
        cast(
            case when fillers.filled_by_batch_id is null then 'open' else 'filled' end
            as {{ spotify_elt.type_text() }}
        ) as status,
        {{ spotify_elt.cast_to_contract('filled_by_batch_id', 'fillers.filled_by_batch_id') }},
        {{ spotify_elt.cast_to_contract('plays_recovered', 'coalesce(recovered.plays_recovered, 0)') }}
    from gaps
    left join fillers
        on gaps.batch_id = fillers.batch_id
    left join recovered
        on gaps.batch_id = recovered.batch_id

)

select * from final
