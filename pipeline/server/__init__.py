"""``somlier api``: the REST API (FastAPI) and the GitHub webhook receiver."""
