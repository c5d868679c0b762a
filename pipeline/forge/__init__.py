"""GitHub through PyGithub: pull requests, comments, statuses, permissions."""
