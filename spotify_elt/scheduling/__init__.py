"""Airflow: a project-local Airflow (`spotify-elt airflow`) and the bodies of the DAG's tasks."""
