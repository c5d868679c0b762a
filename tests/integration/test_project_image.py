"""A fresh monorepo's project image, built by `somlier pipeline build` on the test engine where no
public index has somlier: the image gets the running somlier as a wheel in its build context and
the packages from the index the platform settings name, is pushed to the test registry, and runs
its `main` entrypoint. An index URL with credentials reaches pip as a BuildKit secret and appears
in no output, no layer, no history entry and no image config.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration import package_index
from tests.integration.conftest import GIT_ENV
from tests.integration.services import docker, manifest_digest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SOMLIER = Path(sys.executable).parent / "somlier"
ANSWERS = ("--description", "demo", "--team", "data", "--author", "nuj", "--email", "n@x.org")
TOKEN = "tok-" + uuid.uuid4().hex  # the credential no output or image may show


@pytest.fixture(scope="module")
def index() -> Iterator[package_index.Index]:
    with package_index.serve(package_index.cached_wheels(), "builder", TOKEN) as served:
        yield served


def run(*argv: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )


def ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, (
        f"{done.args}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    )
    return done


def monorepo(tmp_path: Path, packages: str, *, requirements: str | None = None) -> Path:
    """``somlier new-monorepo`` + ``new-project --no-input``, with ``packages`` appended to its
    platform.yaml, committed."""
    env = {**os.environ, **GIT_ENV}
    ok(run(SOMLIER, "new-monorepo", "mono", cwd=tmp_path, env=env))
    mono = tmp_path / "mono"
    ok(
        run(
            SOMLIER,
            "new-project",
            "--no-input",
            "--project-name",
            "churn",
            *ANSWERS,
            "-o",
            "projects",
            cwd=mono,
            env=env,
        )
    )
    if requirements is not None:
        (mono / "projects/churn/requirements.txt").write_text(requirements)
    platform = mono / ".somlier/platform.yaml"
    platform.write_text(platform.read_text() + packages)
    for args in (("init", "-q", "-b", "main"), ("add", "-A"), ("commit", "-qm", "churn")):
        ok(run("git", *args, cwd=mono, env=env))
    return mono


def build_env(docker_host: str, registry: str, base_image: str, **extra: str) -> dict[str, str]:
    prefix = f"img{uuid.uuid4().hex[:8]}"
    return {
        **os.environ,
        **GIT_ENV,
        "DOCKER_HOST": docker_host,
        "SOMLIER__REGISTRY__URL": f"{registry}/{prefix}",
        "SOMLIER__REGISTRY__INSECURE": "true",
        "SOMLIER__BUILDER__BASE_IMAGE": base_image,
        **extra,
    }


def pushed_image(done: subprocess.CompletedProcess[str]) -> tuple[str, str, str]:
    """(image, first tag, digest) of the one project a `pipeline build --json` built."""
    [image] = json.loads(done.stdout)["images"]
    return image["image"], image["tags"][0], image["digest"]


def records(stdout: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_a_new_projects_image_gets_somlier_builds_pushes_and_runs_main(
    tmp_path: Path,
    docker_host: str,
    registry: str,
    base_image: str,
    index: package_index.Index,
) -> None:
    # The index has every package but somlier (as here: somlier is on no index at all).
    mono = monorepo(tmp_path, f"packages:\n  index_url: {index.open_url}\n")
    env = build_env(docker_host, registry, base_image)
    done = ok(
        run(
            SOMLIER, "pipeline", "build", "--project", "projects/churn", "--json", cwd=mono, env=env
        )
    )
    assert "goes into each build context" in done.stderr
    assert "building with BuildKit" in done.stderr
    image, tag, digest = pushed_image(done)
    repository = image.split("/", 1)[1]
    assert manifest_digest(registry, repository, tag) == digest

    # The registry holds exactly this content (the digest covers config and layers): run it.
    ran = docker("run", "--rm", "--network", "none", f"{image}@{digest}", docker_host=docker_host)
    assert [(r["name"], r["stdout"]) for r in records(ran.stdout)] == [("main", "hello world!!\n")]
    version = docker(
        "run", "--rm", "--network", "none", "--entrypoint", "somlier", f"{image}@{digest}",
        "--version", docker_host=docker_host,
    )  # fmt: skip
    import pipeline

    assert pipeline.__version__ in version.stdout
    # somlier came from the build context, never from the index
    assert not any(r.rstrip("/").endswith("/simple/somlier") for r in index.requests)


def image_bytes(image: str, docker_host: str) -> bytes:
    """Every layer (uncompressed: file contents verbatim), the config and the manifest of
    ``image``, as `docker save` writes them."""
    done = subprocess.run(
        [docker_cli(), "-H", docker_host, "save", image],
        capture_output=True,
        timeout=600,
        check=True,
    )
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as tar:
        for member in tar.getmembers():
            handle = tar.extractfile(member) if member.isfile() else None
            if handle is not None:
                data = handle.read()
                out.write(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
    return out.getvalue()


def docker_cli() -> str:
    from tests.integration.services import docker_cli as cli

    return cli()


def test_an_index_url_with_credentials_reaches_pip_and_nothing_else(
    tmp_path: Path,
    docker_host: str,
    registry: str,
    base_image: str,
    index: package_index.Index,
) -> None:
    # Only somlier's own dependencies (the template's requirements are installed above); a new
    # comment each run, so BuildKit runs the install again (a secret is not part of its cache key).
    fresh = f"# {uuid.uuid4().hex}\n"
    mono = monorepo(tmp_path, "packages:\n  index_url_env: PRIVATE_INDEX\n", requirements=fresh)
    env = build_env(docker_host, registry, base_image, PRIVATE_INDEX=index.private_url)
    seen_before = len(index.seen_credentials)
    done = ok(
        run(
            SOMLIER, "pipeline", "build", "--project", "projects/churn", "--json", cwd=mono, env=env
        )
    )
    assert f"builder:{TOKEN}" in index.seen_credentials[seen_before:]  # pip used the secret
    image, _, digest = pushed_image(done)
    assert TOKEN not in done.stdout + done.stderr

    ref = f"{image}@{digest}"
    history = docker("history", "--no-trunc", ref, docker_host=docker_host).stdout
    inspect = docker("image", "inspect", ref, docker_host=docker_host).stdout
    assert "pip install" in history  # the install step is there, without the URL
    for text in (history, inspect):
        assert TOKEN not in text and "PRIVATE_INDEX" not in text
    assert TOKEN.encode() not in image_bytes(ref, docker_host)
    ran = docker("run", "--rm", "--network", "none", ref, docker_host=docker_host)
    assert [r["stdout"] for r in records(ran.stdout)] == ["hello world!!\n"]

    # A failing install prints pip's complaint, with the index URL, but not the token.
    (mono / "projects/churn/requirements.txt").write_text("no-such-package-somlier-test\n")
    ok(run("git", "commit", "-qam", "a missing package", cwd=mono, env=env))
    failed = run(SOMLIER, "pipeline", "build", "--project", "projects/churn", cwd=mono, env=env)
    assert failed.returncode == 1, failed.stderr
    assert "no-such-package-somlier-test" in failed.stderr
    assert TOKEN not in failed.stdout + failed.stderr


def test_make_install_of_a_new_monorepo_installs_the_running_somlier(tmp_path: Path) -> None:
    """No SOMLIER_REQUIREMENT given: the Makefile's default is the somlier that made it."""
    env = {**os.environ, **GIT_ENV}
    ok(run(SOMLIER, "new-monorepo", "mono", cwd=tmp_path, env=env))
    venv = tmp_path / "venv"
    ok(run(sys.executable, "-m", "venv", venv, cwd=tmp_path, env=env))
    env.pop("PYTHONPATH", None)  # the new environment's somlier, not this checkout's modules
    ok(run("make", f"PYTHON={venv / 'bin/python'}", "install", cwd=tmp_path / "mono", env=env))
    import pipeline

    done = ok(run(venv / "bin/somlier", "--version", cwd=tmp_path, env=env))
    assert pipeline.__version__ in done.stdout
    assert (tmp_path / "mono/.git/hooks/pre-commit").is_file()


def test_the_classic_builder_builds_the_template_without_its_mounts(
    tmp_path: Path,
    docker_host: str,
    registry: str,
    base_image: str,
    index: package_index.Index,
) -> None:
    fresh = f"# {uuid.uuid4().hex}\n"  # the install step runs, not a cached layer
    mono = monorepo(tmp_path, f"packages:\n  index_url: {index.open_url}\n", requirements=fresh)
    env = build_env(docker_host, registry, base_image, SOMLIER__BUILDER__BUILDKIT="off")
    done = ok(
        run(
            SOMLIER, "pipeline", "build", "--project", "projects/churn", "--json", cwd=mono, env=env
        )
    )
    assert "building with BuildKit" not in done.stderr
    image, _, digest = pushed_image(done)
    ref = f"{image}@{digest}"
    ran = docker("run", "--rm", "--network", "none", ref, docker_host=docker_host)
    assert [r["stdout"] for r in records(ran.stdout)] == ["hello world!!\n"]
    # without the cache mount pip kept no cache in the image
    docker(
        "run", "--rm", "--network", "none", "--user", "0", "--entrypoint", "sh", ref,
        "-c", "test ! -e /root/.cache/pip", docker_host=docker_host,
    )  # fmt: skip

    # a secret cannot be kept out of a classic build's history: refused, and not shown
    secret_env = {**env, "SOMLIER_PIP_INDEX_URL": index.private_url}
    (mono / "projects/churn/requirements.txt").write_text(f"# {uuid.uuid4().hex}\n")
    ok(run("git", "commit", "-qam", "another build", cwd=mono, env=env))
    refused = run(
        SOMLIER, "pipeline", "build", "--project", "projects/churn", cwd=mono, env=secret_env
    )
    assert refused.returncode == 1
    assert "classic builder cannot keep a build secret" in refused.stdout + refused.stderr
    assert TOKEN not in refused.stdout + refused.stderr
