"""The deploy repository, settings and adapters of the Kubernetes deploy tests, shared with the
API server and chatops tests: somlier's real adapters against the test registry, a bare deploy
repository (git over file://) and the GitHub fake, which learns the pushed branches."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.config.settings import GitHub, PlatformSettings
from pipeline.config.settings import Registry as RegistrySettings
from pipeline.forge.github import GitHubRepo
from pipeline.images.registry import Registry
from pipeline.online.kube_deploy import KubeAdapters
from pipeline.secret import Secret
from tests.fakes.github import FakeGitHub
from tests.helpers.git import GitRepo
from tests.integration.services import docker, manifest_digest

REPO = "acme/deploy"
CANARY = "ghs_CANARY0123456789abcdefCANARY"
ENVIRON = {"PATH": os.environ["PATH"]}


def settings_for(registry: str, prefix: str, **more: Any) -> PlatformSettings:
    return PlatformSettings(
        registry=RegistrySettings(url=registry, image_prefix=prefix, insecure=True),
        github=GitHub(deploy_repo=REPO),
        **more,
    )


def adapters_for(
    registry: str,
    origin: GitRepo,
    github: FakeGitHub | None,
    tmp_path: Path,
    builder: Callable[[], Any] | None = None,
) -> KubeAdapters:
    forge = None
    if github is not None:
        github.follow_origin(REPO, origin.path)  # the pushed branch's commit, as GitHub sees it
        forge = GitHubRepo(REPO, Secret(CANARY), api_url=github.url, pace=False).pulls()
    return KubeAdapters(
        registry=Registry(registry, insecure=True),
        builder_factory=builder,
        forge=forge,
        token=Secret(CANARY),
        clone_url=f"file://{origin.path}",
        environ=ENVIRON,
        workdir=tmp_path,
        wheel_cache=tmp_path / "wheels",
    )


def publish_serving_tag(
    docker_host: str, busybox: str, registry: str, prefix: str, tag: str
) -> str:
    """A small image (busybox, labelled with ``tag`` so each tag has its own digest) under the
    serving image's name and tag; its digest."""
    ref = f"{registry}/{prefix}model-serving:{tag}"
    container = docker("create", busybox, "true", docker_host=docker_host).stdout.strip()
    try:
        docker(
            "commit",
            "--change",
            f"LABEL serving.tag={tag}",
            container,
            ref,
            docker_host=docker_host,
        )
    finally:
        docker("rm", container, docker_host=docker_host, check=False)
    docker("push", ref, docker_host=docker_host)
    return manifest_digest(registry, f"{prefix}model-serving", tag)
