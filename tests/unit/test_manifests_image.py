"""The serving image's pure parts: its name and tag, the Dockerfile, the build context."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from pipeline.config.settings import PlatformSettings
from pipeline.config.settings import Registry as RegistrySettings
from pipeline.errors import UserError
from pipeline.online.bento import Bundle
from pipeline.online.serving_image import ServingImage, context_tar, dockerfile, image_name, tag_for


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    joined = text.replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


@pytest.fixture
def bundle(tmp_path: Path) -> Bundle:
    root = tmp_path / "bundle"
    (root / "model").mkdir(parents=True)
    (root / "service.py").write_text("import bentoml\n", encoding="utf-8")
    (root / "model" / "MLmodel").write_text("flavors: {}\n", encoding="utf-8")
    (root / "requirements.txt").write_text("bentoml>=1.4,<1.5\n", encoding="utf-8")
    return Bundle(root, "service:Model", ("bentoml>=1.4,<1.5",), "3.11")


def test_image_name_and_tag() -> None:
    settings = PlatformSettings(
        registry=RegistrySettings(url="europe-docker.pkg.dev/acme/ml", image_prefix="team-")
    )
    name = image_name(settings)
    assert name.ref(tag_for("iris_Classifier", "3")) == (
        "europe-docker.pkg.dev/acme/ml/team-model-serving:iris_Classifier-v3"
    )


def test_no_registry_is_a_user_error() -> None:
    with pytest.raises(UserError) as caught:
        image_name(PlatformSettings())
    assert "registry.url" in caught.value.hint


def test_too_long_a_tag_is_a_user_error() -> None:
    with pytest.raises(UserError):
        tag_for("m" * 125, "123")


def test_the_dockerfile_runs_bentoml_on_the_port_as_a_user(bundle: Bundle) -> None:
    steps = instructions(dockerfile(bundle, 8080))
    assert steps[0] == ("ARG", "BASE_IMAGE")
    assert [s for s in steps if s[0] == "FROM"] == [
        ("FROM", "${BASE_IMAGE} AS install"),
        ("FROM", "${BASE_IMAGE}"),
    ]
    run = next(args for word, args in steps if word == "RUN")
    assert "--no-index" in run.split() and "/tmp/wheels" in run.split()
    assert ("USER", "1000:1000") in steps
    assert ("EXPOSE", "8080") in steps
    [cmd] = [args for word, args in steps if word == "CMD"]
    assert json.loads(cmd) == [
        "bentoml",
        "serve",
        "service:Model",
        "--host",
        "0.0.0.0",
        "--port",
        "8080",
    ]


def test_the_context_is_complete_and_reproducible(bundle: Bundle, tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "bentoml-1.4.40-py3-none-any.whl").write_bytes(b"wheel")
    (wheels / "requirements.txt").write_text("not copied\n", encoding="utf-8")
    first = context_tar(bundle, wheels, "FROM x\n")
    assert context_tar(bundle, wheels, "FROM x\n") == first
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert set(members) == {
            "Dockerfile",
            "bundle",
            "bundle/model",
            "bundle/model/MLmodel",
            "bundle/requirements.txt",
            "bundle/service.py",
            "wheels/bentoml-1.4.40-py3-none-any.whl",
        }
        assert {(m.uid, m.mtime) for m in members.values()} == {(0, 0)}
        dockerfile_member = tar.extractfile("Dockerfile")
        assert dockerfile_member is not None and dockerfile_member.read() == b"FROM x\n"


def test_the_reference_is_by_digest_once_known() -> None:
    digest = "sha256:" + "1" * 64
    assert ServingImage("r/model-serving", "m-v1", digest, "built").reference == (
        f"r/model-serving@{digest}"
    )
    assert ServingImage("r/model-serving", "m-v1", None, "planned").reference == (
        "r/model-serving:m-v1"
    )
