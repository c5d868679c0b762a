"""The Airflow side of batch jobs: ``somlier dags check`` (every DAG file of an mlops-dags
repository imported by a real Airflow, in its own virtualenv) and ``somlier dags init`` (the
operators package the DAGs import).

``probe`` runs inside Airflow's virtualenv and imports only Airflow and the standard library;
``runtime`` finds that virtualenv and runs it; ``rules`` judges what the probe reports.
"""
