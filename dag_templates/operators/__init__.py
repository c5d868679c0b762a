"""Operators that somlier-rendered DAGs import; `somlier dags init DIR` copies this package into
the mlops-dags repository (DIR/operators/), next to its dags/ folder."""
