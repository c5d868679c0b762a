"""What a deployment asks for: the one value the CLI, the REST API and PR comments all build."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

from pipeline.errors import UserError, clipped

# A registered model name as MLflow and Kubernetes both accept it once lower-cased: DNS-1123-ish.
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
MODEL_VERSION = re.compile(r"^[1-9][0-9]{0,8}$")
ENVIRONMENTS = ("dev", "prod")

Environment = Literal["dev", "prod"]


@dataclass(frozen=True)
class DeployRequest:
    """One model version to serve. Checked on construction: hostile input never gets further."""

    model_name: str
    model_version: str
    project_name: str | None = None
    use_k8s: bool = False
    istio: bool = False
    gpu: bool = False
    env: Environment = "dev"

    def __post_init__(self) -> None:
        if not MODEL_NAME.fullmatch(self.model_name):
            raise UserError(
                f"invalid model name {clipped(self.model_name)!r}",
                hint="letters, digits, '.', '_' and '-', at most 63 characters",
            )
        if not MODEL_VERSION.fullmatch(str(self.model_version)):
            raise UserError(
                f"invalid model version {clipped(str(self.model_version))!r}",
                hint="a positive integer",
            )
        if self.env not in ENVIRONMENTS:
            raise UserError(f"invalid environment {clipped(str(self.env))!r}", hint="dev or prod")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
