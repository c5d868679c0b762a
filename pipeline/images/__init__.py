"""Image builders (local Docker engine, Google Cloud Build), tags, and registry look-ups."""
