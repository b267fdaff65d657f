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
        cast(gaps.batch_id as {{ spotify_elt.type_text() }}) as batch_id,
        cast(gaps.user_id as {{ spotify_elt.type_text() }}) as user_id,
        cast(gaps.detected_at as {{ spotify_elt.type_timestamp() }}) as detected_at,
        cast(gaps.gap_from as {{ spotify_elt.type_timestamp() }}) as gap_from,
        cast(gaps.gap_to as {{ spotify_elt.type_timestamp() }}) as gap_to,
        cast(
            case when fillers.filled_by_batch_id is null then 'open' else 'filled' end
            as {{ spotify_elt.type_text() }}
        ) as status,
        cast(fillers.filled_by_batch_id as {{ spotify_elt.type_text() }}) as filled_by_batch_id,
        cast(coalesce(recovered.plays_recovered, 0) as {{ spotify_elt.type_bigint() }}) as plays_recovered
    from gaps
    left join fillers
        on gaps.batch_id = fillers.batch_id
    left join recovered
        on gaps.batch_id = recovered.batch_id

)

select * from final
