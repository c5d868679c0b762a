"""somlier: the GitOps pipeline and CLI of an MLOps platform (import package ``pipeline``)."""

__version__ = "0.1.0"
