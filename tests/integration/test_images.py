"""The image step against the real Docker engine and registry: builds pushed and read back by
digest, registry-side retags, cache hits, and failures that stay with their project."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from pipeline.config.project import load_project
from pipeline.config.settings import Builder, Monorepo, PlatformSettings
from pipeline.config.settings import Registry as RegistrySettings
from pipeline.errors import UserError
from pipeline.images import buildkit
from pipeline.images.engine import DockerBuilder
from pipeline.images.refs import BuildContext
from pipeline.images.registry import Registry
from pipeline.steps.images import ImageStep, plan
from tests.integration.services import manifest_digest

pytestmark = pytest.mark.integration

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
    "PATH": "/usr/bin:/bin:/usr/local/bin",
    "HOME": "/tmp",
}

DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG PROJECT_DIR
COPY ${PROJECT_DIR}/ /app/
CMD ["cat", "/app/main.txt"]
"""
# A project that depends on libs/ finds it in its build context; others do not.
WITH_LIBS = DOCKERFILE.replace("CMD", "COPY libs/ /libs/\nCMD")


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, env=GIT_ENV, check=True, capture_output=True, text=True
    ).stdout.strip()


def project(
    root: Path, folder: str, name: str, *, depends: str = "", dockerfile: str = DOCKERFILE
) -> None:
    d = root / folder
    d.mkdir(parents=True)
    (d / "requirements.txt").write_text("")
    (d / "main.txt").write_text(f"hello from {name}\n")
    if dockerfile:
        (d / "Dockerfile").write_text(dockerfile)
    extra = f"  depends_on: [{depends}]\n" if depends else ""
    (d / "somlier.yaml").write_text(
        f"project:\n  name: {name}\n{extra}model: {{name: {name}, version: v1.0.0}}\n"
        "entrypoints: {main: {command: python}}\n"
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "ml-projects"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "libs" / "common").mkdir(parents=True)
    (root / "libs" / "common" / "util.txt").write_text("v1\n")
    project(root, "projects/alpha", "alpha")
    project(root, "projects/beta", "beta", depends='"libs/common/**"', dockerfile=WITH_LIBS)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "init")
    return root


def settings_for(registry: str, base: str, prefix: str) -> PlatformSettings:
    return PlatformSettings(
        registry=RegistrySettings(url=f"{registry}/{prefix}", insecure=True),
        builder=Builder(base_image=base, parallelism=2),
        monorepo=Monorepo(global_paths=(".somlier/platform.yaml",)),
    )


def run_step(
    repo: Path,
    docker_host: str,
    registry: str,
    settings: PlatformSettings,
    context: BuildContext,
    folders: list[str],
    builder: object = None,
) -> tuple[list, list[str]]:
    lines: list[str] = []
    configs = [(f, load_project(repo / f / "somlier.yaml", {})) for f in folders]
    planned = plan(repo, "HEAD", configs, settings, context)
    step = ImageStep(
        repo,
        "HEAD",
        settings,
        context,
        builder or (lambda: DockerBuilder(docker_host)),
        Registry(registry, insecure=True),
        lambda p, line: lines.append(f"{p}: {line}"),
    )
    return step.run(planned), lines


def test_build_push_retag_and_cache_hit(
    repo: Path, docker_host: str, registry: str, busybox_image: str, tmp_path: Path
) -> None:
    prefix = f"ml{uuid.uuid4().hex[:10]}"
    settings = settings_for(registry, busybox_image, prefix)
    sha = git(repo, "rev-parse", "HEAD")
    first, lines = run_step(
        repo,
        docker_host,
        registry,
        settings,
        BuildContext("pr", sha, 7),
        ["projects/alpha", "projects/beta"],
    )
    assert [o.ok for o in first] == [True, True], [o.error for o in first]
    for o in first:
        assert not o.cache_hit and o.pushed
        assert o.tags[0].startswith("src-") and f"sha-{sha[:7]}" in o.tags and "pr-7" in o.tags
        assert "latest" not in o.tags  # a PR never moves a release tag
        for tag in o.tags:  # every tag is in the registry, at the pushed digest
            assert manifest_digest(registry, o.image.split("/", 1)[1], tag) == o.digest
    assert any("building" in line for line in lines)

    # The same sources again, now merged: nothing is built, the tags move registry-side.
    again, lines = run_step(
        repo,
        docker_host,
        registry,
        settings,
        BuildContext("main", sha),
        ["projects/alpha", "projects/beta"],
    )
    assert all(o.ok and o.cache_hit for o in again), [o.error for o in again]
    assert not any("building" in line for line in lines)
    for before, after in zip(first, again, strict=True):
        assert after.digest == before.digest
        assert manifest_digest(registry, after.image.split("/", 1)[1], "latest") == before.digest


def test_a_shared_library_changes_only_its_dependents(
    repo: Path, docker_host: str, registry: str, busybox_image: str
) -> None:
    settings = settings_for(registry, busybox_image, "mlshared")
    folders = ["projects/alpha", "projects/beta"]
    configs = [(f, load_project(repo / f / "somlier.yaml", {})) for f in folders]
    sha = git(repo, "rev-parse", "HEAD")
    before = plan(repo, "HEAD", configs, settings, BuildContext("main", sha))
    (repo / "libs" / "common" / "util.txt").write_text("v2\n")
    git(repo, "commit", "-qam", "lib change")
    sha2 = git(repo, "rev-parse", "HEAD")
    after = plan(repo, "HEAD", configs, settings, BuildContext("main", sha2))
    assert before[0].source_tag == after[0].source_tag  # alpha does not depend on libs/
    assert before[1].source_tag != after[1].source_tag  # beta does
    assert "libs/common/util.txt" in {f.path for f in after[1].files}
    assert "libs/common/util.txt" not in {f.path for f in after[0].files}


def test_a_failed_build_fails_its_project_only(
    repo: Path, docker_host: str, registry: str, busybox_image: str
) -> None:
    project(
        repo,
        "projects/broken",
        "broken",
        dockerfile="ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo about to fail && exit 3\n",
    )
    project(repo, "projects/nodocker", "nodocker", dockerfile="")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "broken")
    settings = settings_for(registry, busybox_image, "mlbroken")
    sha = git(repo, "rev-parse", "HEAD")
    outcomes, _ = run_step(
        repo,
        docker_host,
        registry,
        settings,
        BuildContext("pr", sha, 9),
        ["projects/alpha", "projects/broken", "projects/nodocker"],
    )
    by_name = {o.project: o for o in outcomes}
    assert by_name["alpha"].ok
    assert not by_name["broken"].ok and by_name["broken"].digest is None
    assert "did not build" in by_name["broken"].error
    assert any("about to fail" in line for line in by_name["broken"].log_tail)
    assert not by_name["nodocker"].ok and "no Dockerfile" in by_name["nodocker"].error
    repository = by_name["broken"].image.split("/", 1)[1]
    assert Registry(registry, insecure=True).digest(repository, by_name["broken"].tags[0]) is None


def test_registry_client_reads_and_retags(
    registry: str, docker_host: str, busybox_image: str, repo: Path
) -> None:
    settings = settings_for(registry, busybox_image, "mlclient")
    sha = git(repo, "rev-parse", "HEAD")
    [outcome], _ = run_step(
        repo, docker_host, registry, settings, BuildContext("manual", sha), ["projects/alpha"]
    )
    client = Registry(registry, insecure=True)
    repository = outcome.image.split("/", 1)[1]
    manifest = client.manifest(repository, outcome.tags[0])
    assert manifest is not None and manifest.digest == outcome.digest
    client.retag(repository, manifest, ("extra-tag",))
    assert client.digest(repository, "extra-tag") == outcome.digest
    assert client.manifest(repository, "no-such-tag") is None


def test_a_dead_registry_is_a_clear_failure(
    repo: Path, docker_host: str, busybox_image: str
) -> None:
    settings = settings_for("127.0.0.1:9", busybox_image, "dead")
    sha = git(repo, "rev-parse", "HEAD")
    configs = [("projects/alpha", load_project(repo / "projects/alpha/somlier.yaml", {}))]
    planned = plan(repo, "HEAD", configs, settings, BuildContext("manual", sha))
    step = ImageStep(
        repo,
        "HEAD",
        settings,
        BuildContext("manual", sha),
        lambda: DockerBuilder(docker_host),
        Registry("127.0.0.1:9", insecure=True),
        lambda p, line: None,
    )
    [outcome] = step.run(planned)
    assert not outcome.ok
    assert "registry 127.0.0.1:9 unreachable" in outcome.error


def test_buildkit_builds_label_push_and_fail_per_project(
    repo: Path, docker_host: str, registry: str, busybox_image: str
) -> None:
    """With a docker CLI that drives BuildKit on PATH (CI installs Debian's docker.io client),
    builds go through BuildKit: same tags, labels, pushed digests, and per-project failures."""
    environ = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    cli = buildkit.find(environ, docker_host, "auto")
    assert cli is not None, "Debian's docker.io client (/usr/bin/docker) drives BuildKit"
    assert buildkit.find(environ, docker_host, "off") is None
    project(
        repo,
        "projects/broken",
        "broken",
        dockerfile="ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo about to fail && exit 3\n",
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "broken")
    settings = settings_for(registry, busybox_image, f"bk{uuid.uuid4().hex[:10]}")
    sha = git(repo, "rev-parse", "HEAD")
    outcomes, lines = run_step(
        repo,
        docker_host,
        registry,
        settings,
        BuildContext("pr", sha, 11),
        ["projects/alpha", "projects/broken"],
        builder=lambda: DockerBuilder(docker_host, buildkit=cli),
    )
    by_name = {o.project: o for o in outcomes}
    alpha, broken = by_name["alpha"], by_name["broken"]
    assert alpha.ok, alpha.error
    assert any("building with BuildKit" in line for line in lines)
    for tag in alpha.tags:
        assert manifest_digest(registry, alpha.image.split("/", 1)[1], tag) == alpha.digest
    import docker

    labels = docker.APIClient(base_url=docker_host).inspect_image(f"{alpha.image}:{alpha.tags[0]}")[
        "Config"
    ]["Labels"]
    assert labels["org.opencontainers.image.revision"] == sha
    assert not broken.ok and broken.digest is None and "did not build" in broken.error
    assert any("about to fail" in line for line in broken.log_tail)


def test_buildkit_pushes_the_first_tag_and_tags_the_others_registry_side(
    repo: Path, docker_host: str, registry: str, busybox_image: str
) -> None:
    """What ``somlier pipeline build`` does with BuildKit: every tag is set at build time in
    the engine, the first is pushed with ``docker push``, the others point at the same
    manifest registry-side; the reported digest is the registry's."""
    cli = buildkit.find({"PATH": "/usr/bin:/bin", "HOME": "/tmp"}, docker_host, "auto")
    assert cli is not None
    settings = settings_for(registry, busybox_image, f"bkr{uuid.uuid4().hex[:10]}")
    sha = git(repo, "rev-parse", "HEAD")
    [alpha], lines = run_step(
        repo,
        docker_host,
        registry,
        settings,
        BuildContext("pr", sha, 12),
        ["projects/alpha"],
        builder=lambda: DockerBuilder(
            docker_host, buildkit=cli, registry=Registry(registry, insecure=True)
        ),
    )
    assert alpha.ok and alpha.pushed and not alpha.cache_hit, alpha.error
    assert alpha.digest is not None and alpha.digest.startswith("sha256:")
    repository = alpha.image.split("/", 1)[1]
    for tag in alpha.tags:
        assert manifest_digest(registry, repository, tag) == alpha.digest
    assert sum(line.startswith("alpha: pushed ") for line in lines) == 1
    assert any("registry-side" in line for line in lines)
    local = subprocess.run(
        ["/usr/bin/docker", "-H", docker_host, "image", "ls", "--format", "{{.Tag}}", alpha.image],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert set(alpha.tags) <= set(local)  # the engine has every tag too, as before


def test_a_failed_push_fails_its_project_with_the_log(
    repo: Path, docker_host: str, registry: str, busybox_image: str
) -> None:
    cli = buildkit.find({"PATH": "/usr/bin:/bin", "HOME": "/tmp"}, docker_host, "auto")
    assert cli is not None
    # The image goes to a port where no registry listens; the cache look-up asks the real one.
    settings = settings_for("127.0.0.1:9", busybox_image, f"dead{uuid.uuid4().hex[:8]}")
    sha = git(repo, "rev-parse", "HEAD")
    [alpha], _ = run_step(
        repo,
        docker_host,
        registry,
        settings,
        BuildContext("manual", sha),
        ["projects/alpha"],
        builder=lambda: DockerBuilder(docker_host, buildkit=cli),
    )
    assert not alpha.ok and not alpha.pushed and alpha.digest is None
    assert alpha.error == f"pushing {alpha.image}:{alpha.tags[0]} failed"
    assert any("127.0.0.1:9" in line for line in alpha.log_tail)  # the CLI's own words


@pytest.mark.parametrize("host", ["unix:///nonexistent/docker.sock", "tcp://127.0.0.1:9"])
def test_no_engine_is_a_clear_error_with_buildkit(docker_host: str, host: str) -> None:
    cli = buildkit.find({"PATH": "/usr/bin:/bin", "HOME": "/tmp"}, docker_host, "auto")
    assert cli is not None
    with pytest.raises(UserError) as raised:
        DockerBuilder(host, buildkit=cli)
    assert raised.value.message.startswith(f"no Docker engine at {host}: ")
