"""``online deploy --use_k8s`` and ``/rollback``: a serving image, strictly validated manifests,
and a GitOps pull request in the deploy repository.

:func:`deploy_on_k8s`: the image (found by tag or built and pushed, see
:mod:`pipeline.online.serving_image`), then the manifests (:mod:`pipeline.online.manifests`)
with the release record, then one branch and PR per model and environment
(:mod:`pipeline.online.deploy_repo`). :func:`rollback_on_k8s`: the release before the deployed one,
from the record on the deploy repository's default branch, in the same branch and PR.

Adapters (registry, builder, GitHub, the token) are built at the edge by
:func:`pipeline.cli.wiring.adapters_for` from the environment the CLI passes in;
nothing here reads ``os.environ``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.config.model import OnlineSpec
from pipeline.config.settings import PlatformSettings
from pipeline.errors import UserError
from pipeline.online import deploy_repo, manifests, release
from pipeline.online.deploy_repo import Change, GitOpsRequest, GitOpsResult
from pipeline.online.kube_adapters import KubeAdapters
from pipeline.online.manifests import Manifest, ServingSpec
from pipeline.online.model_names import check_model_name, spelling_clash
from pipeline.online.release import Action
from pipeline.online.request import ENVIRONMENTS, DeployRequest
from pipeline.online.serving_image import ServingImage

if TYPE_CHECKING:
    from pipeline.online.bento import Bundle

Echo = Callable[[str], None]

__all__ = ["KubeAdapters", "KubeDeployment", "deploy_on_k8s", "rollback_on_k8s"]


@dataclass(frozen=True)
class KubeDeployment:
    """What a deploy or rollback did (or, for a dry run, would do)."""

    action: Action
    model_name: str
    model_version: str
    env: str
    image: str  # the reference the Deployment runs: image@digest
    image_status: str  # exists | built | planned (deploy); rolled-back (rollback)
    manifests: tuple[Manifest, ...]
    kubernetes_version: str
    dry_run: bool
    previous_version: str | None = None  # what the default branch deployed before
    gitops: GitOpsResult | None = None  # None: no deploy repository (a dry run only)

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "model": self.model_name,
            "version": self.model_version,
            "env": self.env,
            "image": self.image,
            "image_status": self.image_status,
            "previous_version": self.previous_version,
            "kubernetes_version": self.kubernetes_version,
            "dry_run": self.dry_run,
            "manifests": [
                {
                    "file": m.filename,
                    "kind": m.kind,
                    "name": m.document["metadata"]["name"],
                    **({"text": m.text} if self.dry_run else {}),
                }
                for m in self.manifests
            ],
            "pull_request": self.gitops.to_json() if self.gitops else None,
        }

    def lines(self) -> list[str]:
        verb = "roll back to" if self.action == "rollback" else "deploy"
        out = [
            f"{verb} {self.model_name} v{self.model_version} in {self.env}"
            + (f" (deployed now: v{self.previous_version})" if self.previous_version else ""),
            f"image: {self.image} ({self.image_status})",
            f"manifests valid for Kubernetes {self.kubernetes_version} (strict): "
            + ", ".join(f"{m.filename} ({m.kind})" for m in self.manifests),
        ]
        pr = self.gitops
        if pr is None:
            out.append("no deploy repository (github.deploy_repo): nothing would be opened")
        elif pr.status == "unchanged" and pr.pull_number is not None:
            out.append(f"pull request #{pr.pull_number} {pr.pull_url} already carries them")
        elif pr.status == "unchanged":
            out.append(f"{pr.folder}/ already holds these manifests: no pull request needed")
        elif pr.status == "planned":
            out.append(f"would open or update a pull request from {pr.branch} into {pr.base}")
        else:
            out.append(
                f"{pr.status} pull request #{pr.pull_number} {pr.pull_url} ({pr.branch} → "
                f"{pr.base})"
            )
        if self.dry_run:
            for m in self.manifests:
                out += ["---", f"# {deploy_repo.folder(self.model_name, self.env)}/{m.filename}"]
                out += m.text.rstrip("\n").splitlines()
        return out


def _require_in_registry(adapters: KubeAdapters, target: ServingSpec) -> None:
    """Refuse a rollback to an image the registry no longer has (deleted, garbage-collected):
    its pods would never start. Images of another registry than the client's are not checked."""
    name, at, digest = target.image.partition("@")
    host, _, repository = name.partition("/")
    registry = adapters.registry
    if registry is None or not at or host != registry.host:
        return
    if registry.manifest(repository, digest) is None:
        raise UserError(
            f"cannot roll {target.model_name} back to v{target.model_version}: its image "
            f"{target.image} is no longer in the registry",
            hint="deploy that version again (it rebuilds the image): somlier online deploy "
            f"{target.model_name} {target.model_version} --use_k8s",
        )


def _preflight(adapters: KubeAdapters, settings: PlatformSettings, *, dry_run: bool) -> None:
    """Refuse before building or cloning anything what would fail at the end."""
    from pipeline.online.kube_validate import check_version

    check_version(settings.kubernetes.version)
    if dry_run:
        return
    if not settings.github.deploy_repo or not adapters.clone_url:
        raise UserError(
            "no deploy repository to open the pull request in",
            hint="set github.deploy_repo in .somlier/platform.yaml "
            "(or SOMLIER__GITHUB__DEPLOY_REPO)",
        )
    if adapters.forge is None:
        raise UserError(
            f"deploying on Kubernetes opens a pull request: no GitHub token in "
            f"{settings.github.token_env}",
            hint="set it to a token with contents:write and pull_requests:write on "
            f"{settings.github.deploy_repo}, or pass --dry-run",
        )


def _publish(
    adapters: KubeAdapters,
    settings: PlatformSettings,
    model_name: str,
    env: str,
    planner: deploy_repo.Planner,
    *,
    dry_run: bool,
    echo: Echo,
    before_push: Callable[[], None] | None = None,
) -> GitOpsResult:
    repo = settings.github.deploy_repo
    if not repo or not adapters.clone_url:
        raise UserError(
            "no deploy repository to open the pull request in",
            hint="set github.deploy_repo in .somlier/platform.yaml "
            "(or SOMLIER__GITHUB__DEPLOY_REPO)",
        )
    with tempfile.TemporaryDirectory(prefix="somlier-gitops-", dir=adapters.workdir) as scratch:
        request = GitOpsRequest(
            clone_url=adapters.clone_url,
            repo=repo,
            model_name=model_name,
            env=env,
            workdir=Path(scratch),
            forge=adapters.forge,
            token=adapters.token,
            dry_run=dry_run,
            before_push=before_push,
        )
        return deploy_repo.publish(request, planner, environ=adapters.environ, log=echo)


def _change(
    action: Action,
    spec: ServingSpec,
    history: list[dict[str, Any]],
    settings: PlatformSettings,
    previous: str | None,
) -> tuple[Change, list[Manifest]]:
    """The files and PR text that deploy ``spec``, recording ``history`` (newest last);
    ``previous``: the version deployed now."""
    record = release.release_record(spec.model_name, spec.env, history)
    made = manifests.build(spec, release=record, kubernetes_version=settings.kubernetes.version)
    message = (
        f"{deploy_repo.pr_title(action, spec)}\n\nImage: {spec.image}\n"
        f"Somlier-Model: {spec.model_name}\nSomlier-Version: {spec.model_version}\n"
        f"Somlier-Env: {spec.env}\n"
    )
    change = Change(
        files={m.filename: m.text for m in made},
        title=deploy_repo.pr_title(action, spec),
        body=deploy_repo.pr_body(action, spec, made, previous),
        message=message,
    )
    return change, made


def _deployed_version(history: list[dict[str, Any]]) -> str | None:
    return str(history[-1]["version"]) if history else None


def _tracking_uri(settings: PlatformSettings, environ: Mapping[str, str]) -> str:
    """The registry to read the model from when the caller did not say: what ``online
    register`` wrote to (``MLFLOW_TRACKING_URI``, ``mlflow.tracking_uri``, or the SQLite store
    under ``.somlier/`` of the current folder)."""
    from pipeline.online import tracking

    return tracking.resolve(
        root=Path.cwd(),
        settings_uri=settings.mlflow.tracking_uri,
        env_uri=environ.get("MLFLOW_TRACKING_URI"),
    ).uri


def deploy_on_k8s(
    request: DeployRequest,
    *,
    settings: PlatformSettings,
    dry_run: bool,
    echo: Echo,
    environ: Mapping[str, str] | None = None,
    online: OnlineSpec | None = None,
    adapters: KubeAdapters,
    tracking_uri: str | None = None,
    before_push: Callable[[], None] | None = None,
) -> KubeDeployment:
    """Serve ``request`` on Kubernetes through a PR in ``github.deploy_repo``.

    ``online``: the project's serving defaults (``somlier.yaml`` ``online:``); ``adapters``:
    the outside world (:func:`pipeline.cli.wiring.adapters_for` builds them at the edge);
    ``tracking_uri``: the MLflow registry to build the image from (default:
    ``mlflow.tracking_uri`` of the settings); ``before_push``: called right before the push to
    the deploy repository, raises to stop it.
    """
    online = online or OnlineSpec()
    _preflight(adapters, settings, dry_run=dry_run)
    manifests.serving_spec(request, online=online, settings=settings, image="checked:early")
    work = adapters.workdir or Path(tempfile.gettempdir())
    registry_uri = tracking_uri or _tracking_uri(settings, environ or {})
    image = _image(
        request, settings, adapters, registry_uri, online.port, work, dry_run=dry_run, echo=echo
    )
    spec = manifests.serving_spec(request, online=online, settings=settings, image=image.reference)
    echo(f"serving spec: {spec.cpu} cpu, {spec.memory} memory, {spec.gpu_count} GPU")
    made: list[list[Manifest]] = []
    before: list[str | None] = []

    def planner(current: str | None) -> Change:
        where = f"{deploy_repo.folder(spec.model_name, spec.env)}/{deploy_repo.RELEASE_FILE}"
        history = release.read_history(current, where)
        deployed = _deployed_version(history)
        updated = release.after_deploy(history, spec)
        change, rendered = _change("deploy", spec, updated, settings, deployed)
        made.append(rendered)
        before.append(deployed)
        return change

    result: GitOpsResult | None = None
    if settings.github.deploy_repo or not dry_run:
        result = _publish(
            adapters,
            settings,
            spec.model_name,
            spec.env,
            planner,
            dry_run=dry_run,
            echo=echo,
            before_push=before_push,
        )
    else:
        planner(None)
    return KubeDeployment(
        action="deploy",
        model_name=spec.model_name,
        model_version=spec.model_version,
        env=spec.env,
        image=spec.image,
        image_status=image.status,
        manifests=tuple(made[-1]),
        kubernetes_version=settings.kubernetes.version,
        dry_run=dry_run,
        previous_version=before[-1],
        gitops=result,
    )


def _image(
    request: DeployRequest,
    settings: PlatformSettings,
    adapters: KubeAdapters,
    tracking_uri: str,
    port: int,
    work: Path,
    *,
    dry_run: bool,
    echo: Echo,
) -> ServingImage:
    from pipeline.online import serving_image

    def stage(dest: Path) -> Bundle:
        from pipeline.online.bento import stage_bundle
        from pipeline.online.model_ref import resolve_model

        resolved = resolve_model(
            request.model_name,
            str(request.model_version),
            tracking_uri=tracking_uri,
            dest=dest.parent / "model-download",
        )
        return stage_bundle(resolved, dest)

    return serving_image.ensure_image(
        request,
        settings=settings,
        registry=adapters.registry,
        builder_factory=adapters.builder_factory,
        stage=stage,
        port=port,
        workdir=work,
        wheel_cache=adapters.wheel_cache or work / "somlier-wheels",
        dry_run=dry_run,
        echo=echo,
    )


def rollback_on_k8s(
    model_name: str,
    *,
    env: str,
    settings: PlatformSettings,
    dry_run: bool,
    echo: Echo,
    environ: Mapping[str, str] | None = None,
    adapters: KubeAdapters,
) -> KubeDeployment:
    """Open (or update) the PR that deploys the release before the one on the deploy
    repository's default branch, with the image, resources and options it ran with."""
    check_model_name(model_name)
    if env not in ENVIRONMENTS:
        raise UserError(f"invalid environment {env!r}", hint="dev or prod")
    _preflight(adapters, settings, dry_run=dry_run)
    made: list[tuple[ServingSpec, list[Manifest], str | None]] = []

    def planner(current: str | None) -> Change:
        where = f"{deploy_repo.folder(model_name, env)}/{deploy_repo.RELEASE_FILE}"
        history = release.read_history(current, where)
        deployed_as = str(history[-1]["spec"].get("model_name", model_name)) if history else ""
        if history and deployed_as != model_name:  # same folder, another spelling
            raise spelling_clash(model_name, deployed_as, f"deployed in {where}")
        target, remaining = release.rollback_target(history, where)
        echo(
            f"rolling back {model_name} in {env}: v{history[-1]['version']} → "
            f"v{target.model_version}"
        )
        _require_in_registry(adapters, target)
        deployed = _deployed_version(history)
        change, rendered = _change("rollback", target, remaining, settings, deployed)
        made.append((target, rendered, deployed))
        return change

    result = _publish(adapters, settings, model_name, env, planner, dry_run=dry_run, echo=echo)
    target, rendered, previous = made[-1]
    return KubeDeployment(
        action="rollback",
        model_name=target.model_name,
        model_version=target.model_version,
        env=target.env,
        image=target.image,
        image_status="rolled-back",
        manifests=tuple(rendered),
        kubernetes_version=settings.kubernetes.version,
        dry_run=dry_run,
        previous_version=previous,
        gitops=result,
    )
