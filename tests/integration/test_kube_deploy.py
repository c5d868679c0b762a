"""``online deploy --use_k8s`` and rollback end to end: a real OCI registry, a real bare deploy
repository (git over file://), the fake GitHub for the pull requests, kubernetes-validate
--strict on every manifest read back from the pushed branch.

Most tests publish a small image (busybox) under the serving tag first, so the registry "already
has" the serving image and nothing is built; ``test_deploy_builds_the_serving_image`` builds the
real one (the BentoML bundle of a registered scikit-learn model, its wheels, the base image) and
runs it.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.config.model import OnlineSpec
from pipeline.config.settings import Builder, PlatformSettings
from pipeline.errors import UserError
from pipeline.images.engine import DockerBuilder
from pipeline.online import deploy_repo, kube_validate, manifests
from pipeline.online.kube_deploy import KubeDeployment, deploy_on_k8s, rollback_on_k8s
from pipeline.online.request import DeployRequest
from tests.fakes.fixtures import fake_github_fixture  # noqa: F401
from tests.fakes.github import FakeGitHub
from tests.helpers.git import GitRepo, MakeRepo
from tests.helpers.kube_deploy import (
    REPO,
    adapters_for,
    publish_serving_tag,
    settings_for,
)
from tests.integration.models import RegisteredModel
from tests.integration.services import docker, manifest_digest

pytestmark = pytest.mark.integration


@pytest.fixture
def origin(make_repo: MakeRepo) -> GitRepo:
    bare = make_repo("deploy.git", bare=True)
    seed = make_repo("seed")
    seed.commit("initial", {"README.md": "# deploy\n", "prod/other/deployment.yaml": "x: 1\n"})
    seed.git("push", "-q", f"file://{bare.path}", "main")
    return bare


@pytest.fixture
def github(fake_github: FakeGitHub) -> FakeGitHub:
    fake_github.add_repo(REPO)
    return fake_github


@pytest.fixture
def prefix() -> str:
    return f"h3-{uuid.uuid4().hex[:8]}-"  # each test its own repository in the shared registry


def branch_files(origin: GitRepo, branch: str, folder: str) -> dict[str, str]:
    names = origin.git("ls-tree", "-r", "--name-only", branch, "--", folder).split()
    return {n.rsplit("/", 1)[1]: origin.git("show", f"{branch}:{n}") for n in names}


def documents(files: dict[str, str]) -> dict[str, dict[str, Any]]:
    docs = {}
    for text in files.values():
        [doc] = list(yaml.safe_load_all(text))
        docs[doc["kind"]] = doc
    return docs


def history(files: dict[str, str]) -> list[dict[str, Any]]:
    return list(json.loads(documents(files)["ConfigMap"]["data"]["release.json"])["history"])


def merge(github: FakeGitHub, origin: GitRepo, result: KubeDeployment) -> None:
    """What a reviewer's merge does: main takes the branch; the PR is closed."""
    assert result.gitops is not None and result.gitops.pull_number is not None
    origin.git("update-ref", "refs/heads/main", f"refs/heads/{result.gitops.branch}")
    with github.lock:
        github.pull(REPO, result.gitops.pull_number).state = "closed"


def quiet(_line: str) -> None:
    pass


class Iris:
    """The model ``iris`` on the test registry and deploy repository: publish a version's
    serving image, deploy it and merge the PR, roll back."""

    def __init__(
        self, docker_host: str, busybox_image: str, registry: str, prefix: str,
        origin: GitRepo, github: FakeGitHub, tmp_path: Path,
    ) -> None:  # fmt: skip
        self.docker_host, self.busybox_image = docker_host, busybox_image
        self.registry, self.prefix, self.origin, self.github = registry, prefix, origin, github
        self.settings = settings_for(registry, prefix)
        self.adapters = adapters_for(registry, origin, github, tmp_path)

    def publish(self, version: str) -> str:
        """The digest of the serving image of ``version``, pushed."""
        return publish_serving_tag(
            self.docker_host, self.busybox_image, self.registry, self.prefix, f"iris-v{version}"
        )

    def deploy(self, version: str, *, istio: bool = False, **options: Any) -> KubeDeployment:
        """``deploy_on_k8s`` of ``version``: the PR opened or updated, not merged."""
        return deploy_on_k8s(
            DeployRequest("iris", version, istio=istio),
            settings=self.settings,
            dry_run=False,
            echo=quiet,
            adapters=self.adapters,
            **options,
        )

    def deploy_merged(self, version: str, **options: Any) -> KubeDeployment:
        result = self.deploy(version, **options)
        merge(self.github, self.origin, result)
        return result

    def rollback(self) -> KubeDeployment:
        return rollback_on_k8s(
            "iris", env="dev", settings=self.settings, dry_run=False, echo=quiet,
            adapters=self.adapters,
        )  # fmt: skip


@pytest.fixture
def iris(
    docker_host: str,
    busybox_image: str,
    registry: str,
    prefix: str,
    origin: GitRepo,
    github: FakeGitHub,
    tmp_path: Path,
) -> Iris:
    return Iris(docker_host, busybox_image, registry, prefix, origin, github, tmp_path)


def test_deploy_opens_a_pr_with_strictly_valid_manifests_by_digest(
    iris: Iris, registry: str, prefix: str, origin: GitRepo, github: FakeGitHub
) -> None:
    digest = iris.publish("1")
    settings = iris.settings
    main_before = origin.rev("main")

    result = iris.deploy("1", istio=True)

    assert result.image_status == "exists"  # the registry had the tag: nothing built
    image = f"{registry}/{prefix}model-serving@{digest}"
    assert result.image == image
    assert result.gitops is not None and result.gitops.status == "opened"
    [pr] = github.pulls(REPO)
    assert pr.state == "open" and pr.number == result.gitops.pull_number
    assert pr.pull is not None
    assert (pr.pull.head_ref, pr.pull.base_ref) == ("somlier/deploy/iris-dev", "main")
    assert pr.title == "somlier: deploy iris v1 to dev"
    assert pr.body is not None and image in pr.body

    files = branch_files(origin, "somlier/deploy/iris-dev", "dev/iris")
    assert sorted(files) == [
        "deployment.yaml",
        "hpa.yaml",
        "pdb.yaml",
        "release.yaml",
        "service.yaml",
        "virtualservice.yaml",
    ]
    docs = documents(files)
    manifests.validate(
        [manifests.Manifest(name, text, yaml.safe_load(text)) for name, text in files.items()],
        kubernetes_version=settings.kubernetes.version,
    )
    kube_validate.validate_manifests(  # and the built-in kinds once more, without our schemas
        [d for k, d in docs.items() if k != "VirtualService"], kubernetes_version="1.30"
    )
    assert docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]["image"] == image
    [entry] = history(files)
    assert (entry["version"], entry["image"], entry["action"]) == ("1", image, "deploy")
    # the rest of the repository is untouched; main moves only when the PR is merged
    assert branch_files(origin, "somlier/deploy/iris-dev", "prod/other") == {
        "deployment.yaml": "x: 1\n"
    }
    assert origin.rev("main") == main_before
    assert result.to_json()["pull_request"]["pull_number"] == pr.number


def test_deploy_then_rollback_goes_back_to_the_previous_release(
    iris: Iris, registry: str, prefix: str, origin: GitRepo, github: FakeGitHub
) -> None:
    first = iris.publish("1")
    iris.deploy_merged("1")
    second = iris.publish("2")
    v2 = iris.deploy_merged("2", online=OnlineSpec(port=8080))
    assert v2.previous_version == "1"
    assert [e["version"] for e in history(branch_files(origin, "main", "dev/iris"))] == ["1", "2"]

    back = iris.rollback()

    assert (back.action, back.model_version, back.previous_version) == ("rollback", "1", "2")
    assert back.gitops is not None and back.gitops.status == "opened"
    assert back.image == f"{registry}/{prefix}model-serving@{first}"
    files = branch_files(origin, "somlier/deploy/iris-dev", "dev/iris")
    container = documents(files)["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == back.image
    assert container["ports"][0]["containerPort"] == 3000  # v1's settings, not v2's 8080
    assert [e["version"] for e in history(files)] == ["1"]
    pr = github.pull(REPO, back.gitops.pull_number or 0)
    assert pr.title == "somlier: roll back iris v1 to dev"
    assert second != first


def test_rollback_to_an_image_the_registry_lost_is_refused(
    iris: Iris, registry: str, prefix: str, github: FakeGitHub
) -> None:
    first = iris.publish("1")
    iris.deploy_merged("1")
    iris.publish("2")
    iris.deploy_merged("2")
    pulls_before = len(github.pulls(REPO))
    # v1's manifest deleted from the registry (a retention policy, a cleanup).
    url = f"http://{registry}/v2/{prefix}model-serving/manifests/{first}"
    with urllib.request.urlopen(urllib.request.Request(url, method="DELETE")) as answer:
        assert answer.status == 202
    with pytest.raises(UserError) as caught:
        iris.rollback()
    assert "is no longer in the registry" in caught.value.message
    assert "somlier online deploy iris 1 --use_k8s" in caught.value.hint
    assert len(github.pulls(REPO)) == pulls_before  # no PR opened or updated


def test_a_rollback_spelled_unlike_the_deployed_model_is_refused(
    iris: Iris, origin: GitRepo, github: FakeGitHub
) -> None:
    """``IRIS`` names the folder of ``iris`` (one canonical name) but is not how it was
    deployed: refused before anything is pushed (issue 14: allowlists bypassed by spelling)."""
    iris.publish("1")
    iris.deploy_merged("1")
    iris.publish("2")
    iris.deploy_merged("2")
    pulls, branch = len(github.pulls(REPO)), origin.rev("somlier/deploy/iris-dev")
    for name in ("IRIS", "Iris"):
        with pytest.raises(UserError) as caught:
            rollback_on_k8s(
                name, env="dev", settings=iris.settings, dry_run=False, echo=quiet,
                adapters=iris.adapters,
            )  # fmt: skip
        assert "differs only in case or separators from 'iris'" in caught.value.message
    assert len(github.pulls(REPO)) == pulls
    assert origin.rev("somlier/deploy/iris-dev") == branch


def test_rollback_without_an_earlier_release_is_a_user_error(
    iris: Iris, github: FakeGitHub
) -> None:
    with pytest.raises(UserError) as caught:
        iris.rollback()
    assert "nothing deployed yet" in caught.value.message
    iris.publish("1")
    iris.deploy_merged("1")
    with pytest.raises(UserError) as caught:
        iris.rollback()
    assert "only one release" in caught.value.message
    assert len(github.pulls(REPO)) == 1


def test_redeploying_what_is_deployed_opens_nothing(iris: Iris, github: FakeGitHub) -> None:
    iris.publish("1")
    iris.deploy_merged("1")
    again = iris.deploy("1")
    assert again.gitops is not None and again.gitops.status == "unchanged"
    assert len(github.pulls(REPO)) == 1
    assert "no pull request needed" in again.lines()[-1]


def test_dry_run_prints_the_manifests_and_writes_nothing(
    registry: str, prefix: str, origin: GitRepo, github: FakeGitHub, tmp_path: Path
) -> None:
    settings = settings_for(registry, prefix)
    refs_before = origin.git("for-each-ref")
    lines: list[str] = []

    result = deploy_on_k8s(
        DeployRequest("iris", "4", env="prod"),
        settings=settings,
        dry_run=True,
        echo=lines.append,
        adapters=adapters_for(registry, origin, None, tmp_path),  # no GitHub at all
    )

    assert result.image_status == "planned"  # not in the registry, and a dry run builds nothing
    assert result.gitops is not None and result.gitops.status == "planned"
    assert origin.git("for-each-ref") == refs_before
    assert github.pulls(REPO) == []
    printed = "\n".join(result.lines())
    docs = [d for d in yaml.safe_load_all(printed.split("---", 1)[1]) if d]
    assert {d["kind"] for d in docs} == {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "ConfigMap",
    }
    assert result.to_json()["manifests"][0]["text"].startswith("apiVersion: apps/v1")


def test_deploy_without_a_token_or_registry_says_what_to_set(
    registry: str, prefix: str, origin: GitRepo, tmp_path: Path
) -> None:
    settings = settings_for(registry, prefix)
    adapters = adapters_for(registry, origin, None, tmp_path)
    with pytest.raises(UserError) as caught:
        rollback_on_k8s(
            "iris", env="dev", settings=settings, dry_run=False, echo=quiet, adapters=adapters
        )
    assert "no GitHub token in GITHUB_TOKEN" in caught.value.message
    with pytest.raises(UserError) as caught:
        deploy_on_k8s(
            DeployRequest("iris", "1"),
            settings=PlatformSettings(),
            dry_run=True,
            echo=quiet,
            adapters=adapters,
        )
    assert "registry.url" in caught.value.hint

    def no_build() -> Any:
        raise AssertionError("nothing may be built before the deploy repository is known")

    no_repo = PlatformSettings(registry=settings.registry)
    with pytest.raises(UserError) as caught:
        deploy_on_k8s(
            DeployRequest("iris", "1"),
            settings=no_repo,
            dry_run=False,
            echo=quiet,
            adapters=adapters_for(registry, origin, None, tmp_path, builder=no_build),
        )
    assert "github.deploy_repo" in caught.value.hint


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_deploy_builds_the_serving_image(
    docker_host: str,
    base_image: str,
    registry: str,
    prefix: str,
    origin: GitRepo,
    github: FakeGitHub,
    registered_model: RegisteredModel,
    tmp_path: Path,
) -> None:
    """The real path: bundle, wheels, Dockerfile, build, push; the pushed image serves."""
    settings = settings_for(registry, prefix, builder=Builder(base_image=base_image))
    settings = PlatformSettings(
        registry=settings.registry,
        github=settings.github,
        builder=settings.builder,
        mlflow=type(settings.mlflow)(tracking_uri=registered_model.tracking_uri),
    )
    adapters = adapters_for(
        registry, origin, github, tmp_path, builder=lambda: DockerBuilder(docker_host)
    )
    name = registered_model.model_name
    result = deploy_on_k8s(
        DeployRequest(name, registered_model.version),
        settings=settings,
        dry_run=False,
        echo=quiet,
        adapters=adapters,
    )

    assert result.image_status == "built"
    digest = manifest_digest(registry, f"{prefix}model-serving", f"{name}-v1")
    assert result.image == f"{registry}/{prefix}model-serving@{digest}"
    files = branch_files(origin, f"somlier/deploy/{name}-dev", f"dev/{name}")
    container = documents(files)["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == result.image

    # The image serves the model: run it as the Deployment would (its own user, its command).
    port = _free_port()
    started = docker(
        "run",
        "-d",
        "--rm",
        "--network",
        "host",
        result.image,
        "bentoml",
        "serve",
        "service:Model",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        docker_host=docker_host,
    ).stdout.strip()
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                logs = docker("logs", started, docker_host=docker_host, check=False)
                pytest.fail(f"the serving image never became ready:\n{logs.stdout}{logs.stderr}")
            time.sleep(1)
        body = json.dumps({"inputs": [list(r) for r in registered_model.example_rows]}).encode()
        ask = urllib.request.Request(
            f"http://127.0.0.1:{port}/predict",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(ask, timeout=60) as answer:
            assert json.loads(answer.read()) == {"predictions": list(registered_model.expected)}
        user = docker("inspect", "-f", "{{.Config.User}}", started, docker_host=docker_host)
        assert user.stdout.strip() == "1000:1000"
    finally:
        docker("rm", "-f", started, docker_host=docker_host, check=False)

    # A second deploy finds the tag and builds nothing.
    again = deploy_on_k8s(
        DeployRequest(name, registered_model.version),
        settings=settings,
        dry_run=False,
        echo=quiet,
        adapters=adapters,
    )
    assert again.image_status == "exists" and again.image == result.image
    assert deploy_repo.branch(name, "dev") == f"somlier/deploy/{name}-dev"


def test_a_new_version_before_the_merge_updates_the_same_pull_request(
    iris: Iris, origin: GitRepo, github: FakeGitHub
) -> None:
    iris.publish("1")
    iris.publish("2")
    first = iris.deploy("1", istio=True)
    second = iris.deploy("2", istio=False)
    again = iris.deploy("2", istio=False)

    assert first.gitops is not None and second.gitops is not None and again.gitops is not None
    assert second.gitops.status == "updated"
    assert second.gitops.pull_number == first.gitops.pull_number
    assert again.gitops.status == "unchanged"
    assert again.gitops.pull_number == first.gitops.pull_number
    [pr] = github.pulls(REPO)
    assert pr.title == "somlier: deploy iris v2 to dev"
    files = branch_files(origin, "somlier/deploy/iris-dev", "dev/iris")
    assert "virtualservice.yaml" not in files  # --istio dropped: the file goes
    # the branch is one commit on main: the PR shows exactly what merging deploys
    assert origin.git("rev-list", "--count", "main..somlier/deploy/iris-dev").strip() == "1"
    assert [e["version"] for e in history(files)] == ["2"]  # v1 was never merged
