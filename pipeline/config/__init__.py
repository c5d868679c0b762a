"""somlier.yaml and platform settings: safe loading, ${VAR} interpolation, schema validation, typed model."""
