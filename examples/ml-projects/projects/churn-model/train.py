"""Entrypoint `train` of churn-model: fit a churn classifier and log it to MLflow.

`somlier online train projects/churn-model REF` runs this with MLFLOW_TRACKING_URI and
MLFLOW_EXPERIMENT_NAME set; the run `mlflow.start_run()` starts is tagged with the commit, the
ref and the project (MLFLOW_RUN_CONTEXT). Hyper-parameters arrive as --KEY VALUE
(`--param regularization=0.1,1.0` makes one run per value).
"""

import argparse

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract_months"]


def customers(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """Synthetic customers: short tenure, high charges and many support calls churn more."""
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {
            "tenure_months": rng.integers(1, 72, n).astype("float64"),
            "monthly_charges": rng.normal(65.0, 20.0, n).clip(15.0, 150.0),
            "support_calls": rng.poisson(1.5, n).astype("float64"),
            "contract_months": rng.choice([1.0, 12.0, 24.0], n),
        }
    )
    logit = (
        -0.06 * data.tenure_months
        + 0.03 * data.monthly_charges
        + 0.5 * data.support_calls
        - 0.08 * data.contract_months
        - 0.5
    )
    churned = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    return data[FEATURES], pd.Series(churned.astype("int64"), name="churned")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    # Strings, logged as given: somlier logs the same values as run params before the run.
    parser.add_argument("--regularization", default="1.0", help="inverse strength C")
    parser.add_argument("--max_iter", default="200")
    parser.add_argument("--rows", default="2000")
    parser.add_argument("--seed", default="7")
    args = parser.parse_args()

    features, target = customers(int(args.rows), int(args.seed))
    x_train, x_test, y_train, y_test = train_test_split(
        features, target, test_size=0.25, random_state=int(args.seed), stratify=target
    )
    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(C=float(args.regularization), max_iter=int(args.max_iter)),
    )
    with mlflow.start_run() as run:
        mlflow.log_params(vars(args))
        model.fit(x_train, y_train)
        scores = model.predict_proba(x_test)[:, 1]
        mlflow.log_metrics(
            {
                "accuracy": float(accuracy_score(y_test, scores > 0.5)),
                "roc_auc": float(roc_auc_score(y_test, scores)),
            }
        )
        example = x_test.head(3)
        mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(example, model.predict(example)),
            input_example=example,
        )
        print(f"run {run.info.run_id}: roc_auc={roc_auc_score(y_test, scores):.3f}")


if __name__ == "__main__":
    main()
