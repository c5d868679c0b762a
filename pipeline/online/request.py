"""What a deployment asks for: the one value the CLI, the REST API and PR comments all build."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

from pipeline.errors import UserError, clipped
from pipeline.online.model_names import MODEL_NAME, check_model_name

__all__ = ["ENVIRONMENTS", "MODEL_NAME", "MODEL_VERSION", "DeployRequest", "Environment"]
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
        check_model_name(self.model_name)
        if not MODEL_VERSION.fullmatch(str(self.model_version)):
            raise UserError(
                f"invalid model version {clipped(str(self.model_version))!r}",
                hint="a positive integer",
            )
        if self.env not in ENVIRONMENTS:
            raise UserError(f"invalid environment {clipped(str(self.env))!r}", hint="dev or prod")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
