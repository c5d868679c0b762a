"""The ``cloudbuild`` builder against the fake Cloud Build and GCS (tests/fakes/cloudbuild.py),
driven by the real google-cloud-build and google-cloud-storage clients: the uploaded source, the
build request, the digest, failures with their log, polling backoff, retried creates, and the CLI
with Application Default Credentials."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials

from pipeline.config.settings import CloudBuild
from pipeline.errors import UserError
from pipeline.images import context as sources
from pipeline.images.cloudbuild import CloudBuildBuilder
from pipeline.images.engine import BuildFailed
from pipeline.images.job import BuildJob
from pipeline.images.refs import ImageName
from tests.fakes.cloudbuild import FakeCloudBuild
from tests.helpers.git import GitRepo

pytestmark = pytest.mark.integration

BUCKET = "somlier-builds"
IMAGE = ImageName.parse("europe-docker.pkg.dev/my-proj/ml", "alpha")
TAGS = ("src-0123456789ab", "sha-abcdef0", "pr-7")
SOMLIER = Path(sys.executable).parent / "somlier"
DOCKERFILE = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG PROJECT_DIR\nCOPY ${PROJECT_DIR}/ /app/\n"


@pytest.fixture
def fake() -> Iterator[FakeCloudBuild]:
    with FakeCloudBuild(buckets=(BUCKET,)) as server:
        yield server
        assert server.errors == [], "\n".join(server.errors)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def builder(
    fake: FakeCloudBuild, sleeps: Sleeps | None = None, **settings: Any
) -> CloudBuildBuilder:
    options = {"project": "my-proj", "bucket": BUCKET, "timeout_seconds": 1800, **settings}
    return CloudBuildBuilder(
        CloudBuild(**options),
        credentials=AnonymousCredentials(),
        api_endpoint=fake.url,
        storage_endpoint=fake.url,
        poll_initial=0.5,
        poll_max=4.0,
        create_attempts=4,
        sleep=sleeps if sleeps is not None else Sleeps(),
    )


def tar_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def members(tar: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        return {
            m.name: archive.extractfile(m).read()  # type: ignore[union-attr]
            for m in archive.getmembers()
            if m.isfile()
        }


def job(context: bytes, **overrides: Any) -> BuildJob:
    fields: dict[str, Any] = {
        "project": "alpha",
        "image": IMAGE,
        "tags": TAGS,
        "context": context,
        "dockerfile": "projects/alpha/Dockerfile",
        "build_args": {"BASE_IMAGE": "python:3.11-slim", "PROJECT_DIR": "projects/alpha"},
        "labels": {
            "org.opencontainers.image.revision": "abcdef0" * 5 + "12345",
            "dev.somlier.source-hash": "0123456789ab" + "f" * 52,
        },
        "cache_from": (IMAGE.ref("latest"),),
        **overrides,
    }
    return BuildJob(**fields)


def step_args(build: dict[str, Any], step_id: str) -> list[str]:
    return next(s["args"] for s in build["steps"] if s.get("id") == step_id)


def pairs(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == flag]


def test_a_build_uploads_the_context_and_pushes_every_tag(
    fake: FakeCloudBuild, git_repo: GitRepo
) -> None:
    git_repo.commit(
        "init",
        {
            "projects/alpha/Dockerfile": DOCKERFILE,
            "projects/alpha/main.py": "print('alpha')\n",
            "projects/beta/main.py": "print('beta')\n",
            "libs/common/util.py": "X = 1\n",
        },
    )
    chosen = sources.select(
        sources.tracked_files(git_repo.path), "projects/alpha", ["libs/common/util.py"]
    )
    lines: list[str] = []
    the_job = job(sources.tarball(git_repo.path, "HEAD", chosen))

    built = builder(fake).build(the_job, lines.append)

    # The source: a gzip tar at somlier/<project>/<source hash>.tar.gz holding exactly the
    # job's files.
    name = f"somlier/alpha/{the_job.labels['dev.somlier.source-hash']}.tar.gz"
    stored = fake.objects[(BUCKET, name)]
    assert stored.content_type == "application/gzip"
    assert stored.data[:2] == b"\x1f\x8b"
    unpacked = members(gzip.decompress(stored.data))
    assert unpacked == members(the_job.context)
    assert sorted(unpacked) == [
        "libs/common/util.py",
        "projects/alpha/Dockerfile",
        "projects/alpha/main.py",
    ]

    # The build request: the pinned source, a cache pull that may fail, one docker build on
    # Cloud Build's network with every tag, every tag pushed, the configured timeout.
    (request,) = fake.build_requests()
    assert request["source"]["storageSource"] == {
        "bucket": BUCKET,
        "object": name,
        "generation": str(stored.generation),
    }
    assert [s["name"] for s in request["steps"]] == ["gcr.io/cloud-builders/docker"] * 2
    pull = next(s for s in request["steps"] if s["id"] == "pull-cache")
    assert pull["entrypoint"] == "bash"
    assert pull["args"] == ["-c", f"docker pull {IMAGE.ref('latest')} || true"]
    args = step_args(request, "build")
    assert args[:3] == ["build", "--network", "cloudbuild"] and args[-1] == "."
    assert pairs(args, "--cache-from") == [IMAGE.ref("latest")]
    assert pairs(args, "--build-arg") == [
        "BASE_IMAGE=python:3.11-slim",
        "PROJECT_DIR=projects/alpha",
        "BUILDKIT_INLINE_CACHE=1",
    ]
    assert pairs(args, "--label") == [f"{k}={v}" for k, v in the_job.labels.items()]
    assert pairs(args, "-f") == ["projects/alpha/Dockerfile"]
    refs = [IMAGE.ref(tag) for tag in TAGS]
    assert pairs(args, "-t") == refs
    assert request["images"] == refs
    assert request["timeout"] == "1800s"
    assert request["tags"][:2] == ["somlier", "alpha"]
    assert re.fullmatch(r"somlier-[0-9a-f]{20}", request["tags"][2])

    # The result: the digest Cloud Build reported, the log URL in the tail.
    (build,) = fake.builds.values()
    assert build.status == "SUCCESS"
    assert built.image_id == ""
    assert built.digest == build.images[0]["digest"]
    assert {i["name"] for i in build.images} == set(refs)
    log_url = f"builds;region=global/{build.id}?project={fake.project_number}"
    assert any(log_url in line for line in built.log_tail)
    assert built.log_tail[-1].startswith(f"Cloud Build {build.id} SUCCESS")
    assert list(built.log_tail) == lines
    routes = [r.route for r in fake.requests if r.route != "gcs.bucket"]
    assert routes == ["gcs.upload.multipart", "builds.create", "builds.get"]


@pytest.mark.parametrize(
    ("status", "detail"),
    [
        ("FAILURE", "Build step 1 returned a non-zero status: 1"),
        ("TIMEOUT", ""),
        ("CANCELLED", ""),
        ("INTERNAL_ERROR", "worker lost"),
    ],
)
def test_a_failed_build_raises_with_its_status_log_url_and_log(
    fake: FakeCloudBuild, status: str, detail: str
) -> None:
    fake.plan_next(
        status,
        working_polls=1,
        status_detail=detail,
        log_lines=("Step #1: ERROR: No matching distribution found for nope==1.0",),
    )
    with pytest.raises(BuildFailed) as failed:
        builder(fake).build(job(tar_of({"a": b"1"})), lambda line: None)

    (build,) = fake.builds.values()
    assert f"Cloud Build {status}" in failed.value.message
    assert build.id in failed.value.message and "console.cloud.google.com" in failed.value.message
    tail = failed.value.log_tail
    # The build's own log, read from its logs bucket, then the status line with the URL.
    assert "Step #1: ERROR: No matching distribution found for nope==1.0" in tail
    assert tail[-1].startswith(f"Cloud Build {build.id} {status}")
    assert f"builds;region=global/{build.id}" in tail[-1]
    if detail:
        assert detail in tail[-1]


def test_a_failed_build_whose_log_is_unreadable_still_reports(fake: FakeCloudBuild) -> None:
    fake.plan_next("FAILURE")
    fake.inject("GET", r"^/download/storage/v1/b/.*cloudbuild-logs", 403, times=None)
    with pytest.raises(BuildFailed) as failed:
        builder(fake).build(job(tar_of({"a": b"1"})), lambda line: None)
    assert any("build log is not readable here: 403" in line for line in failed.value.log_tail)
    assert "Cloud Build FAILURE" in failed.value.message


def test_polling_backs_off_while_the_build_works(fake: FakeCloudBuild) -> None:
    fake.plan_next(working_polls=6)
    sleeps = Sleeps()
    lines: list[str] = []
    built = builder(fake, sleeps).build(job(tar_of({"a": b"1"})), lines.append)

    assert built.digest is not None
    assert fake.polls() == 7  # six WORKING answers, then SUCCESS
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]  # doubling, capped at poll_max
    # Each status change is one line, not one per poll.
    assert [line.split(": ")[-1] for line in lines if re.search(r": [A-Z]+$", line)] == [
        "WORKING",
        "SUCCESS",
    ]


def test_a_poll_that_meets_a_503_polls_again(fake: FakeCloudBuild) -> None:
    fake.plan_next(working_polls=1)
    fake.inject("GET", r"/builds/[^/]+$", 503, times=2)
    built = builder(fake).build(job(tar_of({"a": b"1"})), lambda line: None)
    assert built.digest is not None


@pytest.mark.parametrize("status", [503, 429])
def test_create_is_retried_after_a_refusal(fake: FakeCloudBuild, status: int) -> None:
    headers = {"Retry-After": "3"} if status == 429 else {}
    fake.inject("POST", r"/builds$", status, times=2, headers=headers)
    sleeps = Sleeps()
    built = builder(fake, sleeps).build(job(tar_of({"a": b"1"})), lambda line: None)

    assert built.digest is not None
    creates = [r for r in fake.requests if r.method == "POST" and r.path.endswith("/builds")]
    assert [r.status for r in creates] == [status, status, 200]
    assert len(fake.builds) == 1
    # Before each new try, the builder looked for a build made by the refused request.
    lists = [r for r in fake.requests if r.route == "builds.list"]
    assert len(lists) == 2 and all(r.query["filter"].startswith('tags="somlier-') for r in lists)
    assert sleeps[:2] == ([3.0, 3.0] if status == 429 else [0.5, 1.0])


def test_a_create_that_failed_after_the_service_made_it_is_not_repeated(
    fake: FakeCloudBuild,
) -> None:
    fake.inject("POST", r"/builds$", 502, after_success=True)
    built = builder(fake).build(job(tar_of({"a": b"1"})), lambda line: None)

    (build,) = fake.builds.values()  # one build, found again by its marker tag
    assert built.digest == build.images[0]["digest"]
    creates = [r for r in fake.requests if r.method == "POST" and r.path.endswith("/builds")]
    assert [r.status for r in creates] == [502]


def test_a_create_that_keeps_failing_fails_the_build(fake: FakeCloudBuild) -> None:
    fake.inject("POST", r"/builds$", 503, times=None)
    with pytest.raises(BuildFailed) as failed:
        builder(fake).build(job(tar_of({"a": b"1"})), lambda line: None)
    assert "503" in failed.value.message
    assert sum(r.path.endswith("/builds") and r.method == "POST" for r in fake.requests) == 4
    assert fake.builds == {}


def test_regional_builds_use_the_location_routes(fake: FakeCloudBuild) -> None:
    fake.plan_next(working_polls=1)
    built = builder(fake, region="asia-northeast3").build(
        job(tar_of({"a": b"1"})), lambda line: None
    )
    (build,) = fake.builds.values()
    assert build.location == "asia-northeast3" and built.digest is not None
    calls = [(r.method, r.path) for r in fake.requests if r.path.startswith("/v1/")]
    where = "/v1/projects/my-proj/locations/asia-northeast3/builds"
    assert calls == [
        ("POST", where),
        ("GET", f"{where}/{build.id}"),
        ("GET", f"{where}/{build.id}"),
    ]
    assert any("builds;region=asia-northeast3/" in line for line in built.log_tail)


def test_a_large_context_is_uploaded_resumably(fake: FakeCloudBuild) -> None:
    blob = os.urandom(9 * 1024 * 1024)  # incompressible: past the 8 MiB multipart limit
    the_job = job(tar_of({"projects/alpha/model.bin": blob}))
    builder(fake).build(the_job, lambda line: None)

    assert {r.route for r in fake.requests if r.route and r.route.startswith("gcs.upload")} == {
        "gcs.upload.resumable"
    }
    (stored,) = [o for o in fake.objects.values() if o.bucket == BUCKET]
    assert gzip.decompress(stored.data) == the_job.context


def test_a_dollar_reaches_docker_as_a_dollar(fake: FakeCloudBuild) -> None:
    """Cloud Build expands $NAME in step arguments; the builder escapes every $ so the fake,
    which refuses unknown substitutions as Cloud Build does, accepts the request."""
    labels = {"note": "costs $5 or ${HOME}"}
    builder(fake).build(job(tar_of({"a": b"1"}), labels=labels), lambda line: None)
    (request,) = fake.build_requests()
    assert pairs(step_args(request, "build"), "--label") == ["note=costs $$5 or $${HOME}"]


def test_the_fake_refuses_an_unknown_substitution(fake: FakeCloudBuild) -> None:
    from google.api_core import exceptions
    from google.cloud.devtools import cloudbuild_v1

    client = cloudbuild_v1.CloudBuildClient(
        credentials=AnonymousCredentials(),
        transport="rest",
        client_options={"api_endpoint": fake.url},
    )
    build = cloudbuild_v1.Build(
        source={"storage_source": {"bucket": BUCKET, "object_": "x.tar.gz"}},
        steps=[{"name": "ubuntu", "args": ["echo", "$HOME"]}],
    )
    with pytest.raises(exceptions.BadRequest, match="not a valid built-in substitution"):
        client.create_build(project_id="my-proj", build=build)


def test_a_missing_source_object_fails_the_build(fake: FakeCloudBuild) -> None:
    from google.cloud.devtools import cloudbuild_v1

    client = cloudbuild_v1.CloudBuildClient(
        credentials=AnonymousCredentials(),
        transport="rest",
        client_options={"api_endpoint": fake.url},
    )
    build = cloudbuild_v1.Build(
        source={"storage_source": {"bucket": BUCKET, "object_": "missing.tar.gz"}},
        steps=[{"name": "ubuntu", "args": ["true"]}],
    )
    operation = client.create_build(project_id="my-proj", build=build)
    result = client.get_build(project_id="my-proj", id=operation.metadata.build.id)
    assert result.status.name == "FAILURE" and "storage object not found" in result.status_detail


def test_a_missing_bucket_is_a_failed_build(fake: FakeCloudBuild) -> None:
    with pytest.raises(BuildFailed, match=r"gs://no-such-bucket/.* failed: 404") as failed:
        builder(fake, bucket="no-such-bucket").build(job(tar_of({"a": b"1"})), print)
    assert "The specified bucket does not exist" in failed.value.message
    assert fake.builds == {}


def test_settings_and_registry_are_checked(fake: FakeCloudBuild) -> None:
    with pytest.raises(UserError, match=r"builder\.cloudbuild\.project"):
        builder(fake, project=None)
    with pytest.raises(UserError, match=r"builder\.cloudbuild\.bucket"):
        builder(fake, bucket=None)
    cloud = builder(fake)
    assert cloud.has(IMAGE.ref(TAGS[0])) is False
    local = ImageName.parse("", "alpha")
    with pytest.raises(BuildFailed, match=r"registry\.url"):
        cloud.build(job(tar_of({"a": b"1"}), image=local), lambda line: None)
    assert fake.requests == [] or {r.route for r in fake.requests} == {"gcs.bucket"}


# The CLI, with Application Default Credentials --------------------------------------------------

PROJECT_YAML = (
    "project:\n  name: alpha\nmodel: {name: alpha, version: v1.0.0}\n"
    "entrypoints: {main: {command: python}}\n"
)


def cli_env(tmp_path: Path, fake: FakeCloudBuild, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GOOGLE_", "CLOUDSDK_", "GITHUB_", "SOMLIER_", "GCE_"))
    }
    return {
        **env,
        "NO_GCE_CHECK": "True",  # never probe the GCE metadata server from here
        "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"),  # no user's gcloud credentials
        "SOMLIER_CLOUDBUILD_API_URL": fake.url,
        "SOMLIER_GCS_API_URL": fake.url,
        **extra,
    }


def monorepo(git_repo: GitRepo, registry_url: str) -> None:
    platform = (
        f"registry: {{url: '{registry_url}', insecure: true}}\n"
        "builder:\n  type: cloudbuild\n"
        f"  cloudbuild: {{project: my-proj, bucket: {BUCKET}, timeout_seconds: 900}}\n"
    )
    git_repo.commit(
        "init",
        {
            ".somlier/platform.yaml": platform,
            "projects/alpha/somlier.yaml": PROJECT_YAML,
            "projects/alpha/requirements.txt": "",
            "projects/alpha/Dockerfile": DOCKERFILE,
        },
    )


def somlier(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SOMLIER), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_cli_builds_on_cloud_build_with_default_credentials(
    git_repo: GitRepo, registry: str, tmp_path: Path
) -> None:
    canary = f"ya29.canary-{uuid.uuid4().hex}"
    with FakeCloudBuild(buckets=(BUCKET,), access_token=canary) as fake:
        monorepo(git_repo, f"{registry}/ml{uuid.uuid4().hex[:8]}")
        adc = fake.adc_file(tmp_path)
        env = cli_env(tmp_path, fake, GOOGLE_APPLICATION_CREDENTIALS=str(adc))
        done = somlier(
            git_repo.path, env, "pipeline", "build", "--project", "projects/alpha", "--json"
        )

        assert done.returncode == 0, done.stderr
        assert fake.errors == []
        (build,) = fake.builds.values()
        (image,) = json.loads(done.stdout)["images"]
        assert image["digest"] == build.images[0]["digest"]
        assert build.spec["timeout"] == "900s"
        assert f"builds;region=global/{build.id}" in done.stderr  # the log URL is reported
        # The token came from the credentials file's token endpoint and went to both APIs...
        assert fake.bearer_tokens == {canary}
        assert fake.subject_tokens[:1] == ["fake-github-oidc-token"]
        assert {r.route for r in fake.requests} >= {"sts.token", "builds.create"}
        # ... and never to the output.
        assert canary not in done.stdout + done.stderr


def test_the_cli_says_what_is_missing(git_repo: GitRepo, tmp_path: Path) -> None:
    with FakeCloudBuild(buckets=(BUCKET,)) as fake:
        monorepo(git_repo, "")
        env = cli_env(tmp_path, fake)
        done = somlier(git_repo.path, env, "pipeline", "build", "--project", "projects/alpha")
        assert done.returncode == 2, done.stderr
        assert "registry.url is not set" in done.stderr and "Traceback" not in done.stderr

        monorepo(git_repo, "europe-docker.pkg.dev/my-proj/ml")
        done = somlier(git_repo.path, env, "pipeline", "build", "--project", "projects/alpha")
        assert done.returncode == 2, done.stderr
        assert "no Google Cloud credentials" in done.stderr and "Traceback" not in done.stderr
        assert fake.requests == []


def test_the_wheel_rides_in_the_context_and_the_index_secret_comes_from_secret_manager(
    fake: FakeCloudBuild,
) -> None:
    """What `pipeline build` gives Cloud Build for packages: the somlier wheel inside the
    uploaded context, plain pip settings as build arguments, and the index URL with credentials
    only as a Secret Manager reference that BuildKit mounts (docs/platform.md#packages)."""
    from pipeline.images.packages import BuildSecret, with_files

    version = "projects/my-proj/secrets/pypi-index-url/versions/4"
    wheel = ".somlier-build/somlier-0.1.0-py3-none-any.whl"
    the_job = job(
        with_files(tar_of({"projects/alpha/Dockerfile": DOCKERFILE.encode()}), {wheel: b"PK"}),
        build_args={"SOMLIER_REQUIREMENT": f"/opt/somlier-build/{wheel.split('/')[1]}"},
        secrets=(BuildSecret("pip-index-url", secret_manager_version=version),),
    )
    builder(fake).build(the_job, lambda line: None)
    (stored,) = [o for o in fake.objects.values() if o.bucket == BUCKET]
    assert members(gzip.decompress(stored.data))[wheel] == b"PK"
    (request,) = fake.build_requests()
    assert request["availableSecrets"] == {
        "secretManager": [{"versionName": version, "env": "SOMLIER_PIP_INDEX_URL"}]
    }
    build = next(s for s in request["steps"] if s["id"] == "build")
    assert build["secretEnv"] == ["SOMLIER_PIP_INDEX_URL"]
    assert build["env"] == ["DOCKER_BUILDKIT=1"]
    assert pairs(build["args"], "--secret") == ["id=pip-index-url,env=SOMLIER_PIP_INDEX_URL"]
    assert "SOMLIER_REQUIREMENT=/opt/somlier-build/somlier-0.1.0-py3-none-any.whl" in pairs(
        build["args"], "--build-arg"
    )
