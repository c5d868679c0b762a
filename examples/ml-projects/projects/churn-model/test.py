"""Entrypoint `test` of churn-model."""

assert 1 + 1 == 2
print("tests passed")
