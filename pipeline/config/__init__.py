"""somlier.yaml and platform settings: safe loading, ${VAR}, schema validation, typed model."""
