"""The pure parts of the ``cloudbuild`` builder: the Build resource a job becomes, the object
name of its source, the digest taken from a finished build."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

from pipeline.images.cloudbuild import build_spec, digest_of, escape, object_name
from pipeline.images.job import BuildJob
from pipeline.images.refs import ImageName

IMAGE = ImageName.parse("gcr.io/my-proj", "alpha")


def job(**overrides: Any) -> BuildJob:
    fields: dict[str, Any] = {
        "project": "alpha",
        "image": IMAGE,
        "tags": ("src-0123456789ab", "latest"),
        "context": b"",
        "dockerfile": "Dockerfile",
        **overrides,
    }
    return BuildJob(**fields)


def test_every_dollar_is_escaped_for_cloud_build() -> None:
    assert escape("a$B ${C} $$") == "a$$B $${C} $$$$"
    assert escape("plain") == "plain"


def test_without_a_cache_image_there_is_no_pull_step() -> None:
    spec = build_spec(job(), "bkt", "somlier/alpha/x.tar.gz", 7, 600, "somlier-m")
    (step,) = spec["steps"]
    assert step["id"] == "build" and "--cache-from" not in step["args"]
    assert step["args"][:3] == ["build", "--network", "cloudbuild"]
    assert spec["images"] == [
        "gcr.io/my-proj/alpha:src-0123456789ab",
        "gcr.io/my-proj/alpha:latest",
    ]
    assert spec["timeout"] == {"seconds": 600}
    assert spec["source"] == {
        "storage_source": {"bucket": "bkt", "object_": "somlier/alpha/x.tar.gz", "generation": 7}
    }
    assert spec["tags"] == ["somlier", "alpha", "somlier-m"]


def test_every_cache_image_is_pulled_and_a_missing_one_is_no_error() -> None:
    cache = ("gcr.io/my-proj/alpha:latest", "gcr.io/my-proj/alpha:sha-abc1234")
    spec = build_spec(job(cache_from=cache), "bkt", "o", 1, 600, "m")
    pull, build = spec["steps"]
    assert pull["entrypoint"] == "bash"
    assert pull["args"][1] == (
        "docker pull gcr.io/my-proj/alpha:latest || true ; "
        "docker pull gcr.io/my-proj/alpha:sha-abc1234 || true"
    )
    args = build["args"]
    assert [args[i + 1] for i, a in enumerate(args) if a == "--cache-from"] == list(cache)


def test_the_object_is_named_by_the_source_hash_or_else_uniquely() -> None:
    hashed = job(labels={"dev.somlier.source-hash": "ab" * 32})
    assert object_name(hashed) == f"somlier/alpha/{'ab' * 32}.tar.gz"
    first, second = object_name(job()), object_name(job())
    assert re.fullmatch(r"somlier/alpha/[0-9a-f]{32}\.tar\.gz", first) and first != second


def test_the_digest_is_the_one_reported_for_a_tag_of_the_job() -> None:
    def image(name: str, digest: str) -> SimpleNamespace:
        return SimpleNamespace(name=name, digest=digest)

    build = SimpleNamespace(
        results=SimpleNamespace(
            images=[
                image("gcr.io/my-proj/other:latest", "sha256:other"),
                image("gcr.io/my-proj/alpha:latest", "sha256:alpha"),
            ]
        )
    )
    assert digest_of(build, IMAGE, ("src-0123456789ab", "latest")) == "sha256:alpha"
    assert digest_of(build, IMAGE, ("src-0123456789ab",)) is None
