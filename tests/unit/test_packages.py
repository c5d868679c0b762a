"""How images get their packages and somlier (``packages:`` in the platform settings): the
settings and their schema, what every builder is given (BuildKit's command line, the Cloud Build
resource, the classic builder's context), and that an index URL's credentials are never shown."""

from __future__ import annotations

import io
import itertools
import json
import re
import stat
import tarfile
from pathlib import Path
from typing import Any

import pytest

from pipeline.config.settings import Packages
from pipeline.config.settings_load import load_settings
from pipeline.errors import ConfigError, StepFailed, UserError
from pipeline.images import buildkit, packages, wheel
from pipeline.images.cloudbuild import build_spec
from pipeline.images.dockerfile import without_mounts
from pipeline.images.engine import BuildFailed, DockerBuilder, classic_context
from pipeline.images.job import BuildJob
from pipeline.images.refs import ImageName
from pipeline.secret import Secret

TOKEN = "s3cr3t-t0ken-value"
SECRET_URL = f"https://builder:{TOKEN}@pypi.example.com/simple/"
TEMPLATE = Path(__file__).resolve().parents[2] / "project_template" / "Dockerfile"


def tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as out:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def members(context: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(context)) as t:
        return {m.name: t.extractfile(m).read() for m in t.getmembers() if m.isfile()}  # type: ignore[union-attr]


def job(**overrides: Any) -> BuildJob:
    fields: dict[str, Any] = {
        "project": "churn",
        "image": ImageName("127.0.0.1:5000", "ml/churn"),
        "tags": ("src-abc",),
        "context": tar({"projects/churn/Dockerfile": TEMPLATE.read_bytes()}),
        "dockerfile": "projects/churn/Dockerfile",
        **overrides,
    }
    return BuildJob(**fields)


def platform(tmp_path: Path, text: str) -> Path:
    (tmp_path / ".somlier").mkdir()
    (tmp_path / ".somlier/platform.yaml").write_text(text)
    return tmp_path


# --- settings ---------------------------------------------------------------------------------


def test_the_defaults_build_a_wheel_and_use_pips_own_index(tmp_path: Path) -> None:
    settings = load_settings(None, {})
    assert settings.packages == Packages()
    assert settings.packages.somlier == "wheel"
    assert packages.pip_args(settings.packages) == {}  # no empty PIP_INDEX_URL="" argument


def test_a_packages_section_loads(tmp_path: Path) -> None:
    root = platform(
        tmp_path,
        "packages:\n"
        "  index_url: https://nexus.example.com/repository/pypi/simple\n"
        "  extra_index_urls: [https://a.example.com/simple, https://b.example.com/simple]\n"
        "  find_links: [https://wheels.example.com/]\n"
        "  index_url_env: NEXUS_INDEX_URL\n"
        "  index_url_secret: projects/p/secrets/pypi-url/versions/latest\n"
        "  somlier: index\n",
    )
    loaded = load_settings(root, {}).packages
    assert loaded.extra_index_urls == (
        "https://a.example.com/simple",
        "https://b.example.com/simple",
    )
    assert packages.pip_args(loaded) == {
        "PIP_INDEX_URL": "https://nexus.example.com/repository/pypi/simple",
        "PIP_EXTRA_INDEX_URL": "https://a.example.com/simple https://b.example.com/simple",
        "PIP_FIND_LINKS": "https://wheels.example.com/",
    }
    assert loaded.index_url_secret == "projects/p/secrets/pypi-url/versions/latest"


def test_a_password_in_a_url_is_refused_without_showing_it(tmp_path: Path) -> None:
    root = platform(tmp_path, f"packages:\n  extra_index_urls: [{SECRET_URL}]\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(root, {})
    text = str(raised.value) + repr(raised.value.diagnostics)
    assert TOKEN not in text
    [diag] = raised.value.diagnostics
    assert (diag.line, "carries no password") == (2, "carries no password")
    assert "packages.index_url_env" in diag.message


def test_a_password_from_an_override_variable_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(None, {"SOMLIER__PACKAGES__INDEX_URL": SECRET_URL})
    [diag] = raised.value.diagnostics
    assert diag.path == "SOMLIER__PACKAGES__INDEX_URL"
    assert TOKEN not in str(raised.value) + repr(raised.value.diagnostics)


def test_a_password_from_interpolation_is_refused_without_showing_it(tmp_path: Path) -> None:
    root = platform(
        tmp_path, "packages:\n  index_url: https://u:${PYPI_TOKEN}@pypi.example.com/simple\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_settings(root, {"PYPI_TOKEN": TOKEN})
    assert TOKEN not in str(raised.value) + repr(raised.value.diagnostics)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("packages:\n  somlier: pypi\n", "is not one of 'wheel', 'index'"),
        ("packages:\n  index_url_secret: my-secret\n", "projects/PROJECT/secrets/NAME"),
        ("packages:\n  index_url_env: lower\n", "is not valid"),
    ],
)
def test_bad_values_are_refused(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(platform(tmp_path, text), {})
    assert words in str(raised.value) + " ".join(d.hint for d in raised.value.diagnostics)


# --- the inputs of one run ----------------------------------------------------------------------


def test_wheel_mode_adds_the_wheel_to_the_context_and_names_it(tmp_path: Path) -> None:
    made = tmp_path / "somlier-9.9.9-py3-none-any.whl"
    made.write_bytes(b"PK wheel")
    inputs = packages.inputs(
        Packages(find_links=("https://wheels.example.com/",)),
        {},
        cloud=False,
        scratch=tmp_path,
        origin=wheel.Origin("9.9.9", wheel=made),
    )
    assert inputs.files == {".somlier-build/somlier-9.9.9-py3-none-any.whl": b"PK wheel"}
    assert inputs.build_args == {
        "PIP_FIND_LINKS": "https://wheels.example.com/",
        "SOMLIER_REQUIREMENT": "/opt/somlier-build/somlier-9.9.9-py3-none-any.whl",
    }
    assert inputs.secrets == ()
    context = packages.with_files(tar({"a/Dockerfile": b"FROM x\n"}), inputs.files)
    assert members(context) == {
        "a/Dockerfile": b"FROM x\n",
        ".somlier-build/somlier-9.9.9-py3-none-any.whl": b"PK wheel",
    }
    assert packages.with_files(context, {}) is context


def test_index_mode_installs_the_running_version(tmp_path: Path) -> None:
    inputs = packages.inputs(
        Packages(somlier="index", index_url="https://pypi.example.com/simple"),
        {},
        cloud=False,
        scratch=tmp_path,
        origin=wheel.Origin("1.2.3"),
    )
    assert inputs.files == {}
    assert inputs.build_args["SOMLIER_REQUIREMENT"] == "somlier==1.2.3"
    assert inputs.build_args["PIP_INDEX_URL"] == "https://pypi.example.com/simple"


def test_a_somlier_from_an_index_is_installed_from_the_index(tmp_path: Path) -> None:
    said: list[str] = []
    inputs = packages.inputs(
        Packages(), {}, cloud=False, scratch=tmp_path, origin=wheel.Origin("1.2.3"), log=said.append
    )
    assert inputs.files == {} and inputs.build_args == {"SOMLIER_REQUIREMENT": "somlier==1.2.3"}
    assert said == [
        "somlier 1.2.3 was installed from an index and has no wheel here: the images install "
        "somlier==1.2.3 from packages.index_url"
    ]


def test_the_secret_index_url_is_a_secret_never_a_build_argument(tmp_path: Path) -> None:
    inputs = packages.inputs(
        Packages(somlier="index"),
        {"SOMLIER_PIP_INDEX_URL": SECRET_URL},
        cloud=False,
        scratch=tmp_path,
        origin=wheel.Origin("1.0.0"),
    )
    [found] = inputs.secrets
    assert found.id == "pip-index-url" and found.value is not None
    assert found.value.reveal() == SECRET_URL and TOKEN not in repr(found)
    assert TOKEN not in json.dumps(inputs.build_args)
    shown = inputs.redact(f"Looking in indexes: {SECRET_URL}\n401 for builder:{TOKEN}")
    assert TOKEN not in shown and shown == "Looking in indexes: ***\n401 for builder:***"


def test_cloud_build_takes_the_secret_from_secret_manager_only() -> None:
    version = "projects/p/secrets/pypi/versions/3"
    found = packages.index_secret(Packages(index_url_secret=version), {}, cloud=True)
    assert found is not None and found.secret_manager_version == version and found.value is None
    assert packages.index_secret(Packages(), {}, cloud=True) is None
    with pytest.raises(UserError) as raised:
        packages.index_secret(Packages(), {"SOMLIER_PIP_INDEX_URL": SECRET_URL}, cloud=True)
    assert "packages.index_url_secret" in raised.value.hint
    assert TOKEN not in raised.value.message + raised.value.hint


# --- what each builder is given -------------------------------------------------------------------


def secret_job() -> BuildJob:
    return job(
        secrets=(packages.BuildSecret("pip-index-url", value=Secret(SECRET_URL)),),
        build_args={"SOMLIER_REQUIREMENT": "/opt/somlier-build/somlier-1-py3-none-any.whl"},
    )


def test_buildkit_reads_the_secret_from_a_private_file(tmp_path: Path) -> None:
    built = secret_job()
    files = buildkit._secret_files(built, tmp_path)
    args = buildkit.build_args(built, tmp_path / "iid", files)
    path = files["pip-index-url"]
    assert ("--secret", f"id=pip-index-url,src={path}") in set(itertools.pairwise(args))
    assert path.read_text() == SECRET_URL
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert TOKEN not in " ".join(args)
    assert (
        "--build-arg",
        "SOMLIER_REQUIREMENT=/opt/somlier-build/somlier-1-py3-none-any.whl",
    ) in set(itertools.pairwise(args))


def test_cloud_build_mounts_the_secret_manager_version_with_buildkit() -> None:
    version = "projects/p/secrets/pypi/versions/latest"
    built = job(secrets=(packages.BuildSecret("pip-index-url", secret_manager_version=version),))
    spec = build_spec(built, "bkt", "o", 1, 600, "m")
    (step,) = spec["steps"]
    assert step["env"] == ["DOCKER_BUILDKIT=1"]  # RUN --mount needs BuildKit
    assert step["secret_env"] == ["SOMLIER_PIP_INDEX_URL"]
    assert spec["available_secrets"] == {
        "secret_manager": [{"version_name": version, "env": "SOMLIER_PIP_INDEX_URL"}]
    }
    pairs = set(zip(step["args"], step["args"][1:], strict=False))
    assert ("--secret", "id=pip-index-url,env=SOMLIER_PIP_INDEX_URL") in pairs


def test_cloud_build_is_never_sent_a_secret_value() -> None:
    with pytest.raises(BuildFailed) as raised:
        build_spec(secret_job(), "bkt", "o", 1, 600, "m")
    assert "Secret Manager" in raised.value.message and TOKEN not in raised.value.message


def instructions(text: str) -> list[str]:
    """Each instruction on one line: comments dropped, continuations joined, spaces squeezed."""
    lines = "\n".join(x for x in text.splitlines() if not x.lstrip().startswith("#"))
    return [" ".join(x.split()) for x in lines.replace("\\\n", " ").splitlines() if x.strip()]


def test_the_classic_builder_gets_the_template_without_mounts() -> None:
    context, dockerfile = classic_context(job())
    assert dockerfile == ".somlier-build/Dockerfile.classic"
    text = members(context)[dockerfile].decode()
    original = TEMPLATE.read_text()
    assert without_mounts(original) == (text, 2)
    # the same instructions, the install RUN without its two --mount options
    expected = [re.sub(r" --mount=\S+", "", line) for line in instructions(original)]
    assert instructions(text) == expected
    assert any(line.startswith("RUN if [ -s /run/secrets/pip-index-url ]") for line in expected)


def test_without_mounts_removes_only_run_options() -> None:
    text = (
        "FROM x\n"
        "RUN --mount=type=cache,target=/c \\\n    --mount=type=secret,id=s make\n"
        "RUN echo --mount=not-an-option\n"
    )
    assert without_mounts(text) == ("FROM x\nRUN make\nRUN echo --mount=not-an-option\n", 2)
    plain = job(context=tar({"Dockerfile": b"FROM x\n"}), dockerfile="Dockerfile")
    assert classic_context(plain) == (plain.context, "Dockerfile")


class FakeSdk:
    """The docker SDK's APIClient, recording what the classic builder sends."""

    def __init__(self) -> None:
        self.builds: list[dict[str, Any]] = []

    def build(self, **kwargs: Any) -> list[dict[str, Any]]:
        self.builds.append(kwargs)
        return [{"stream": "Step 1/1\n"}, {"aux": {"ID": "sha256:feed"}}]


def classic_builder(sdk: FakeSdk) -> DockerBuilder:
    builder = DockerBuilder.__new__(DockerBuilder)
    builder._docker_host = None
    builder._registry = None
    builder._buildkit = None
    builder._sdk = sdk
    builder._auth = None
    return builder


def test_the_classic_builder_is_given_the_args_and_a_dockerfile_it_can_read() -> None:
    sdk = FakeSdk()
    built = job(build_args={"SOMLIER_REQUIREMENT": "/opt/somlier-build/w.whl"}, push=False)
    classic_builder(sdk).build(built, lambda line: None)
    [sent] = sdk.builds
    assert sent["buildargs"] == {"SOMLIER_REQUIREMENT": "/opt/somlier-build/w.whl"}
    assert sent["dockerfile"] == ".somlier-build/Dockerfile.classic"
    sent_text = members(sent["fileobj"].getvalue())[sent["dockerfile"]].decode()
    assert not any("--mount" in line for line in instructions(sent_text))


def test_the_classic_builder_refuses_a_secret_before_sending_anything() -> None:
    sdk = FakeSdk()
    with pytest.raises(BuildFailed) as raised:
        classic_builder(sdk).build(secret_job(), lambda line: None)
    assert sdk.builds == []
    assert "BuildKit" in raised.value.message and TOKEN not in raised.value.message


# --- the running somlier ---------------------------------------------------------------------


def test_a_source_tree_is_found_by_its_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pipeline").mkdir()
    assert wheel.source_tree(tmp_path / "pipeline") is None
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "other"\n')
    assert wheel.source_tree(tmp_path / "pipeline") is None
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "somlier"\n')
    assert wheel.source_tree(tmp_path / "pipeline") == tmp_path
    assert wheel.Origin("1.0", tree=tmp_path).requirement() == str(tmp_path)


def test_the_wheel_somlier_was_installed_from_is_reused(tmp_path: Path) -> None:
    made = tmp_path / "somlier-1.0-py3-none-any.whl"
    url = json.dumps({"url": made.as_uri(), "archive_info": {}})
    assert wheel.installed_wheel(url) is None  # gone since
    made.write_bytes(b"PK")
    assert wheel.installed_wheel(url) == made
    assert wheel.installed_wheel(json.dumps({"url": "https://x/somlier.tar.gz"})) is None
    assert wheel.installed_wheel(None) is None and wheel.installed_wheel("{not json") is None
    origin = wheel.Origin("1.0", wheel=made)
    assert wheel.build(origin, tmp_path) == made and origin.requirement() == str(made)


def test_somlier_from_an_index_has_no_wheel_and_says_what_to_set(tmp_path: Path) -> None:
    origin = wheel.Origin("1.0")
    assert origin.requirement() == "somlier==1.0"
    with pytest.raises(StepFailed) as raised:
        wheel.build(origin, tmp_path)
    assert "packages.somlier: index" in raised.value.message


# --- the image step hands them to every build -------------------------------------------------


class RecordingBuilder:
    """A builder that keeps each job and echoes the secret URL into the log, as a careless
    tool inside the build might."""

    def __init__(self, have: bool = False, fail: bool = False) -> None:
        self.jobs: list[BuildJob] = []
        self.have = have
        self.fail = fail

    def has(self, ref: str) -> bool:
        return self.have

    def tag_local(self, source: str, image: ImageName, tags: tuple[str, ...]) -> None:
        pass

    def build(self, job: BuildJob, log: Any) -> Any:
        from pipeline.images.engine import Built

        self.jobs.append(job)
        log(f"Looking in indexes: {SECRET_URL}")
        if self.fail:
            raise BuildFailed(f"pip could not reach {SECRET_URL}", (f"GET {SECRET_URL}",))
        return Built("sha256:feed", None, (f"Looking in indexes: {SECRET_URL}",))


def image_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, builder: RecordingBuilder, made: list[int]
) -> tuple[Any, list[Any], list[str]]:
    from pipeline.config.project import load_project
    from pipeline.config.settings import PlatformSettings
    from pipeline.images.refs import BuildContext
    from pipeline.steps import images

    monkeypatch.setattr(images.sources, "tarball", lambda root, rev, files: tar({}))
    planned = []
    for name in ("alpha", "beta"):
        folder = tmp_path / "projects" / name
        folder.mkdir(parents=True)
        (folder / "Dockerfile").write_text("FROM x\n")
        (folder / "requirements.txt").write_text("")
        (folder / "somlier.yaml").write_text(
            f"project: {{name: {name}}}\nmodel: {{name: {name}, version: v1.0.0}}\n"
            "entrypoints: {main: {command: python}}\n"
        )
        config = load_project(folder / "somlier.yaml", {})
        planned.append(
            images.Planned(config, f"projects/{name}", ImageName("", name), ("src-1",), (), "h")
        )

    def make() -> packages.PackageInputs:
        made.append(1)
        return packages.PackageInputs(
            {"SOMLIER_REQUIREMENT": "/opt/somlier-build/somlier-1-py3-none-any.whl"},
            {".somlier-build/somlier-1-py3-none-any.whl": b"PK"},
            (packages.BuildSecret("pip-index-url", value=Secret(SECRET_URL)),),
        )

    lines: list[str] = []
    step = images.ImageStep(
        tmp_path,
        "HEAD",
        PlatformSettings(),
        BuildContext("manual", "abcdef0"),
        lambda: builder,
        None,
        lambda project, line: lines.append(line),
        packages=make,
    )
    return step, planned, lines


def test_every_build_gets_the_wheel_the_args_and_the_secret_made_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builder, made = RecordingBuilder(), []
    step, planned, lines = image_step(tmp_path, monkeypatch, builder, made)
    outcomes = step.run(planned)
    assert [o.ok for o in outcomes] == [True, True] and made == [1]
    for sent in builder.jobs:
        assert members(sent.context) == {".somlier-build/somlier-1-py3-none-any.whl": b"PK"}
        assert sent.build_args["SOMLIER_REQUIREMENT"].endswith("somlier-1-py3-none-any.whl")
        assert sent.build_args["PROJECT_DIR"] in ("projects/alpha", "projects/beta")
        assert [s.id for s in sent.secrets] == ["pip-index-url"]
    shown = "\n".join(lines + [line for o in outcomes for line in o.log_tail])
    assert "Looking in indexes: ***" in shown and TOKEN not in shown


def test_a_failed_build_reports_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    step, planned, lines = image_step(tmp_path, monkeypatch, RecordingBuilder(fail=True), [])
    outcomes = step.run(planned)
    assert not any(o.ok for o in outcomes)
    shown = "\n".join(
        [*lines, *(o.error for o in outcomes), *(x for o in outcomes for x in o.log_tail)]
    )
    assert "pip could not reach ***" in shown and TOKEN not in shown


def test_a_cache_hit_makes_no_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    builder, made = RecordingBuilder(have=True), []
    step, planned, _ = image_step(tmp_path, monkeypatch, builder, made)
    assert all(o.ok and o.cache_hit for o in step.run(planned))
    assert made == [] and builder.jobs == []


def test_the_monorepo_makefile_installs_the_running_somlier(tmp_path: Path) -> None:
    from pipeline.scaffold import new_monorepo

    new_monorepo.create(tmp_path / "mono", {})
    makefile = (tmp_path / "mono" / "Makefile").read_text()
    origin = wheel.running()
    assert f"SOMLIER_REQUIREMENT ?= {origin.requirement()}\n" in makefile
    assert new_monorepo.somlier_requirement(wheel.Origin("2.0", tree=Path("/a b/$(x)"))) == (
        "somlier==2.0"
    )
    assert new_monorepo.somlier_requirement(wheel.Origin("2.0")) == "somlier==2.0"
