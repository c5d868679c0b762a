"""Day-one scaffolding: the project template, the monorepo, ``somlier init``, notebooks to
scripts, and the JupyterHub notebook-server profiles."""
