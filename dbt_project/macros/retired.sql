{#- Relations that earlier versions of the project built and this one does not: dbt never drops
    what it no longer builds, so a warehouse that is upgraded would keep them, stale, forever.
    The analytics marts' building blocks were intermediate models named int_* until they moved
    after the marts and became analytics_*. -#}
{% macro drop_retired_relations() %}
    {#- Only runs that build drop anything: `dbt compile` renders this hook too, without a
        server (offline T-SQL compile). -#}
    {%- if execute and flags.WHICH in ['run', 'build'] -%}
        {%- for name in ['int_plays_dated', 'int_artist_plays_credited', 'int_track_attribution'] -%}
            {%- set relation = adapter.get_relation(database=target.database, schema='intermediate', identifier=name) -%}
            {%- if relation is not none -%}
                {%- do log('dropping ' ~ relation ~ ', which this version of the project no longer builds', info=true) -%}
                {%- do adapter.drop_relation(relation) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{% endmacro %}
