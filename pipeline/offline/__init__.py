"""Batch jobs: Airflow DAG files from somlier.yaml ``offline:`` jobs or ``offline create``."""
