"""Entrypoint `main` of churn-model: prints a greeting (the tutorial's hello world)."""

print("hello world!!")
