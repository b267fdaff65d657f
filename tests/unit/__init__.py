"""The fast half: no dbt build, no PostgreSQL server, no Airflow, no browser; runs in seconds
with `.venv/bin/pytest tests/unit`."""
