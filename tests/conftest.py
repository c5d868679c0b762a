"""Plugins for the whole suite, as fixtures: the real services (Docker engine, registry),
registered models, the REST API's in-process ``store`` and ``client``, ``mlflow server``, and the
wheels a project image installs."""

pytest_plugins = [
    "tests.integration.services",
    "tests.integration.models",
    "tests.helpers.api_client",
    "tests.helpers.mlflow_server",
    "tests.helpers.project_wheelhouse",
]
