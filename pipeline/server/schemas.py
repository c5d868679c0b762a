"""The bodies of the REST API as pydantic models: what the OpenAPI spec publishes.

The deploy payload keeps the original tool's field names (``is_k8s``, ``istio_enabled``,
``use_gpu``); the names and the version are checked by :class:`DeployRequest`, whose messages
become the 422 answer. The patterns below only document those checks in the spec.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictStr, field_validator

from pipeline.errors import clipped
from pipeline.online.request import MODEL_NAME, MODEL_VERSION, DeployRequest
from pipeline.server.store import Deployment, Status

PROJECT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

EXAMPLE_PAYLOAD: dict[str, Any] = {
    "project_name": "churn",
    "model_name": "churn-classifier",
    "model_version": "3",
    "is_k8s": True,
    "istio_enabled": False,
    "use_gpu": False,
}


def _version_text(value: object) -> object:
    """A version may come as a JSON number or string; anything else is refused here."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return value
    raise ValueError("a version is a positive integer, as a number or a string")


def _version_schema(schema: dict[str, Any]) -> None:
    # Documents the check DeployRequest applies (its message is clearer than a pattern's).
    schema.pop("type", None)
    schema["anyOf"] = [
        {"type": "string", "pattern": MODEL_VERSION.pattern},
        {"type": "integer", "minimum": 1, "maximum": 999_999_999},
    ]


class DeployPayload(BaseModel):
    """What to deploy: the original ``POST /deploy`` payload (plus an optional ``env``)."""

    model_config = ConfigDict(
        extra="forbid", protected_namespaces=(), json_schema_extra={"examples": [EXAMPLE_PAYLOAD]}
    )

    project_name: StrictStr | None = Field(
        default=None,
        description="The ML project the model comes from (a DNS-1123 label, as in somlier.yaml).",
        examples=["churn"],
        json_schema_extra={"pattern": PROJECT_NAME.pattern, "maxLength": 63},
    )
    model_name: StrictStr = Field(
        description="A registered MLflow model: letters, digits, '.', '_' and '-', at most 63.",
        examples=["churn-classifier"],
        json_schema_extra={"pattern": MODEL_NAME.pattern},
    )
    model_version: Annotated[str, BeforeValidator(_version_text)] = Field(
        description='The registered version: a positive integer, as a number or a string ("3").',
        examples=["3", 3],
        json_schema_extra=_version_schema,
    )
    is_k8s: bool = Field(
        default=False,
        description="Serve on Kubernetes (a GitOps PR in the deploy repository). false: serve "
        "locally, which only the CLI does (the deployment fails with that message).",
    )
    istio_enabled: bool = Field(default=False, description="Route through the Istio mesh.")
    use_gpu: bool = Field(default=False, description="Schedule the model server on a GPU node.")
    env: Literal["dev", "prod"] = Field(default="dev", description="Target environment.")

    @field_validator("project_name")
    @classmethod
    def _project_name(cls, value: str | None) -> str | None:
        if value is not None and not PROJECT_NAME.fullmatch(value):
            raise ValueError(
                f"invalid project name {clipped(value)!r}: lower-case letters, digits and '-', "
                "at most 63 characters, starting and ending with a letter or digit"
            )
        return value

    def to_request(self) -> DeployRequest:
        """Raises ``UserError`` with the reason when a name or the version is not acceptable."""
        return DeployRequest(
            model_name=self.model_name,
            model_version=str(self.model_version),
            project_name=self.project_name,
            use_k8s=self.is_k8s,
            istio=self.istio_enabled,
            gpu=self.use_gpu,
            env=self.env,
        )


class DeployedRequest(BaseModel):
    """The request as accepted (normalised: the version is a string)."""

    model_config = ConfigDict(protected_namespaces=())

    project_name: str | None = Field(description="The ML project, if given.")
    model_name: str = Field(description="The registered MLflow model.")
    model_version: str = Field(description="The registered version.")
    is_k8s: bool
    istio_enabled: bool
    use_gpu: bool
    env: Literal["dev", "prod"]

    @classmethod
    def of(cls, recorded: dict[str, Any]) -> DeployedRequest:
        request = DeployRequest(**recorded)
        return cls(
            project_name=request.project_name,
            model_name=request.model_name,
            model_version=request.model_version,
            is_k8s=request.use_k8s,
            istio_enabled=request.istio,
            use_gpu=request.gpu,
            env=request.env,
        )


class ProgressMessage(BaseModel):
    at: datetime = Field(description="When the step was reported (UTC).")
    message: str = Field(description="What the deployment is doing.")


class DeploymentStatus(BaseModel):
    """A deployment and how far it got."""

    id: str = Field(description="The deployment id (32 hex digits).", examples=["0" * 32])
    status: Status = Field(
        description="queued → running → succeeded | failed. A deployment running when the "
        "server stopped is failed at the next start; a queued one runs then."
    )
    request: DeployedRequest
    progress: list[ProgressMessage] = Field(description="Steps reported so far, oldest first.")
    result: dict[str, Any] | None = Field(
        description="What the deployment did (succeeded only): e.g. the PR opened in the "
        "deploy repository and the manifests it carries."
    )
    error: str | None = Field(description="Why it failed (failed only).")
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, row: Deployment) -> DeploymentStatus:
        return cls.model_validate(
            {
                "id": row.id,
                "status": row.status,
                "request": DeployedRequest.of(row.request),
                "progress": [{"at": p.at, "message": p.message} for p in row.progress],
                "result": row.result,
                "error": row.error,
                "created_at": row.created_at,
                "updated_at": row.updated_at,
                "started_at": row.started_at,
                "finished_at": row.finished_at,
            }
        )


class Health(BaseModel):
    status: Literal["ok"] = Field(description="Always ok when the server answers 200.")
    version: str = Field(description="The somlier version.", examples=["0.1.0"])
    waiting: int = Field(description="Deployments waiting in the queue.", ge=0)


class FieldProblem(BaseModel):
    loc: list[str | int] = Field(description="Where: e.g. ['body', 'model_name'].")
    message: str
    type: str = Field(description="A stable error code, e.g. missing, string_type.")


class Problem(BaseModel):
    """Every error answer (401, 404, 422, 503, ...)."""

    detail: str = Field(description="What went wrong, for a human.")
    errors: list[FieldProblem] = Field(
        default_factory=list, description="Each field at fault (422 only)."
    )
