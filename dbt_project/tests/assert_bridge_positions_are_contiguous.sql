-- A track's artists are numbered 1..n with no gap, so position 1 is always the main artist.
select
    track_sk,
    count(*) as artists,
    min(artist_position) as first_position,
    max(artist_position) as last_position
from {{ ref('bridge_track_artists') }}
group by track_sk
having min(artist_position) <> 1 or max(artist_position) <> count(*)
