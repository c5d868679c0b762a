"""The CI steps of the pipeline (PR builds, merges), shared by the CLI, Actions and the API."""
