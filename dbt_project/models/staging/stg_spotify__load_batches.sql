with source as (

    select * from {{ source('spotify', 'load_batches') }}

),

renamed as (

    select
        batch_id,
        source as load_source,
        user_id,
        status,
        started_at,
        finished_at,
        rows_seen,
        rows_inserted,
        rows_duplicate,
        gap_suspected,
        api_requests,
        watermark_before,
        oldest_played_at,
        newest_played_at,
        message
    from source

)

select * from renamed
