{#- The last part of a file's path (`/` or `\` between parts): what the import classifies a
    privacy-export file by (raw.spotify_streaming_history.source_file is `<zip>/<member>`). -#}
{% macro file_name(path) %}{{ return(adapter.dispatch('file_name', 'spotify_elt')(path)) }}{% endmacro %}

{% macro default__file_name(path) -%}
    substring(replace({{ path }}, '\', '/') from '[^/]*$')
{%- endmacro %}

{% macro duckdb__file_name(path) -%}
    regexp_extract(replace({{ path }}, '\', '/'), '[^/]*$')
{%- endmacro %}

{#- CHARINDEX finds the last `/` in the reversed path; the leading `/` makes one always there. -#}
{% macro sqlserver__file_name(path) -%}
    right(replace({{ path }}, '\', '/'), charindex('/', reverse(concat('/', replace({{ path }}, '\', '/')))) - 1)
{%- endmacro %}
