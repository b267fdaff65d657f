"""The rest: dbt builds, the suite's PostgreSQL server, Airflow, the browser, and the commands
run as a user runs them, each in a process of its own."""
