"""The BuildKit command line: what ``docker build`` is asked to do for a job."""

from __future__ import annotations

from pathlib import Path

from pipeline.images import buildkit
from pipeline.images.job import BuildJob
from pipeline.images.refs import ImageName


def test_build_args_carry_tags_args_labels_cache_and_host_network() -> None:
    job = BuildJob(
        project="churn",
        image=ImageName("127.0.0.1:5000", "ml/churn"),
        tags=("src-abc", "pr-1"),
        context=b"",
        dockerfile="projects/churn/Dockerfile",
        build_args={"BASE_IMAGE": "python:3.11-slim"},
        labels={"org.opencontainers.image.revision": "f00"},
        cache_from=("127.0.0.1:5000/ml/churn:latest",),
    )
    args = buildkit.build_args(job, Path("/tmp/iid"))
    pairs = {(args[i], args[i + 1]) for i in range(len(args) - 1)}
    assert args[0] == "build"
    assert ("--network", "host") in pairs and ("--progress", "plain") in pairs
    assert ("--file", "projects/churn/Dockerfile") in pairs
    assert ("--tag", "127.0.0.1:5000/ml/churn:src-abc") in pairs
    assert ("--build-arg", "BASE_IMAGE=python:3.11-slim") in pairs
    assert ("--build-arg", "BUILDKIT_INLINE_CACHE=1") in pairs  # the next build's cache
    assert ("--label", "org.opencontainers.image.revision=f00") in pairs
    assert ("--cache-from", "127.0.0.1:5000/ml/churn:latest") in pairs
    assert ("--iidfile", "/tmp/iid") in pairs


def test_off_finds_nothing_and_an_empty_path_finds_nothing() -> None:
    assert buildkit.find({"PATH": "/usr/bin"}, None, "off") is None
    assert buildkit.find({"PATH": ""}, None, "auto") is None


def test_an_engine_before_18_09_builds_classic() -> None:
    assert buildkit.engine_supports("1.41") and buildkit.engine_supports("1.39")
    assert not buildkit.engine_supports("1.38") and not buildkit.engine_supports("")
