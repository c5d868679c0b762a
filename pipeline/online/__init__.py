"""Models: MLflow training and registry, BentoML serving, Kubernetes manifests and GitOps PRs."""
