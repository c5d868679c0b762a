"""The typed, frozen form of a validated somlier.yaml. Defaults match the schema's ``default``s
(a unit test holds them together); nothing past the loader sees a raw dict."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal


@dataclass(frozen=True, kw_only=True)
class Logging:
    format: Literal["json", "text"] = "json"


@dataclass(frozen=True, kw_only=True)
class GlobalSettings:
    env: str = "dev"
    logging: Logging = field(default_factory=Logging)


@dataclass(frozen=True, kw_only=True)
class PythonSpec:
    version: str = "3.11"
    requirements_txt: str = "requirements.txt"


@dataclass(frozen=True, kw_only=True)
class EnvVar:
    name: str
    value: str


@dataclass(frozen=True, kw_only=True)
class DockerSpec:
    name: str
    tags: tuple[str, ...] = ("latest",)
    env: tuple[EnvVar, ...] = ()
    volumes: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ProjectSpec:
    name: str
    python: PythonSpec
    docker: DockerSpec
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class AssetFile:
    name: str
    remote_uri: str
    local_path: str


@dataclass(frozen=True, kw_only=True)
class Asset:
    provider: Literal["gcs", "http"]
    files: tuple[AssetFile, ...]


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    name: str
    version: str
    tags: tuple[str, ...] = ()
    assets: tuple[Asset, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Entrypoint:
    name: str
    command: tuple[str, ...]
    args: tuple[str, ...] = ()

    @property
    def argv(self) -> tuple[str, ...]:
        return (*self.command, *self.args)


@dataclass(frozen=True, kw_only=True)
class Resources:
    cpu: str | None = None
    memory: str | None = None


@dataclass(frozen=True, kw_only=True)
class Gpu:
    type: str
    count: int = 1


@dataclass(frozen=True, kw_only=True)
class OfflineJob:
    dag_id: str
    schedule: str
    entrypoint: str | None = None
    command: str | None = None
    template: Literal["default", "mlops"] = "default"
    description: str = ""
    owner: str | None = None  # None: the platform's airflow.owner
    tags: tuple[str, ...] = ()
    gpu: Gpu | None = None
    resources: Resources = field(default_factory=Resources)
    retries: int = 3
    secrets: tuple[str, ...] = ()
    timezone: str | None = None  # None: the platform's airflow.timezone
    catchup: bool = False
    start_date: str | None = None


@dataclass(frozen=True, kw_only=True)
class Replicas:
    min: int = 1
    max: int = 3


@dataclass(frozen=True, kw_only=True)
class OnlineSpec:
    resources: Resources = field(default_factory=Resources)
    gpu: Gpu | None = None
    replicas: Replicas = field(default_factory=Replicas)
    istio: bool = False
    port: int = 3000


@dataclass(frozen=True, kw_only=True)
class ProjectConfig:
    """One project: its ``somlier.yaml`` and the folder it lives in."""

    path: Path  # the somlier.yaml file
    global_: GlobalSettings
    project: ProjectSpec
    model: ModelSpec
    entrypoints: dict[str, Entrypoint]
    offline: tuple[OfflineJob, ...] = ()
    online: OnlineSpec = field(default_factory=OnlineSpec)
    # (key path, as written, as read) of each value read from the environment: an error about
    # one shows the ${VAR} (interpolate.scrub). Not part of the settings (config show skips it).
    from_env: tuple[tuple[tuple[str | int, ...], str, str], ...] = field(
        default=(), repr=False, compare=False, metadata={"internal": True}
    )

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def name(self) -> str:
        return self.project.name

    @property
    def requirements_path(self) -> Path:
        return self.root / self.project.python.requirements_txt


def _quantity(value: Any) -> str | None:
    return None if value is None else str(value)


def _resources(raw: dict[str, Any] | None) -> Resources:
    raw = raw or {}
    return Resources(cpu=_quantity(raw.get("cpu")), memory=_quantity(raw.get("memory")))


def _whole(raw: dict[str, Any], *keys: str) -> dict[str, Any]:
    """JSON Schema counts 2.0 as an integer; the model holds ints."""
    return {k: int(v) if k in keys and isinstance(v, float) else v for k, v in raw.items()}


def _gpu(raw: dict[str, Any] | None) -> Gpu | None:
    return None if raw is None else Gpu(**_whole(raw, "count"))


def _env(item: str | dict[str, str]) -> EnvVar:
    if isinstance(item, str):
        name, _, value = item.partition("=")
        return EnvVar(name=name, value=value)
    return EnvVar(name=item["name"], value=item["value"])


def _command(raw: str | list[str]) -> tuple[str, ...]:
    return tuple(shlex.split(raw)) if isinstance(raw, str) else tuple(raw)


def build(
    data: dict[str, Any],
    path: Path,
    from_env: tuple[tuple[tuple[str | int, ...], str, str], ...] = (),
) -> ProjectConfig:
    """Turn schema-valid data into a :class:`ProjectConfig` (total on valid input)."""
    g = data.get("global", {})
    p = data["project"]
    docker = p.get("docker", {})
    m = data["model"]
    online = data.get("online", {})
    return ProjectConfig(
        path=path,
        from_env=from_env,
        global_=GlobalSettings(
            **({"env": g["env"]} if "env" in g else {}),
            logging=Logging(**g.get("logging", {})),
        ),
        project=ProjectSpec(
            name=p["name"],
            python=PythonSpec(**p.get("python", {})),
            docker=DockerSpec(
                name=docker.get("name", p["name"]),
                tags=tuple(docker.get("tags", ("latest",))),
                env=tuple(_env(e) for e in docker.get("env", ())),
                volumes=tuple(docker.get("volumes", ())),
            ),
            depends_on=tuple(p.get("depends_on", ())),
        ),
        model=ModelSpec(
            name=m["name"],
            version=m["version"],
            tags=tuple(m.get("tags", ())),
            assets=tuple(
                Asset(
                    provider=a["provider"],
                    files=tuple(
                        AssetFile(name=k, remote_uri=v["remote_uri"], local_path=v["local_path"])
                        for k, v in a["files"].items()
                    ),
                )
                for a in m.get("assets", ())
            ),
            config=m.get("config", {}),
        ),
        entrypoints={
            name: Entrypoint(
                name=name, command=_command(e["command"]), args=tuple(e.get("args", ()))
            )
            for name, e in data["entrypoints"].items()
        },
        offline=tuple(
            OfflineJob(
                **{
                    k: v
                    for k, v in _whole(job, "retries").items()
                    if k not in {"gpu", "resources", "tags", "secrets"}
                },
                tags=tuple(job.get("tags", ())),
                secrets=tuple(job.get("secrets", ())),
                gpu=_gpu(job.get("gpu")),
                resources=_resources(job.get("resources")),
            )
            for job in data.get("offline", ())
        ),
        online=OnlineSpec(
            resources=_resources(online.get("resources")),
            gpu=_gpu(online.get("gpu")),
            replicas=Replicas(**_whole(online.get("replicas", {}), "min", "max")),
            istio=online.get("istio", False),
            port=int(online.get("port", 3000)),
        ),
    )
