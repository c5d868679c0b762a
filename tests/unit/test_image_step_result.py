"""The image step's result object: what ``pipeline build`` prints (text and ``--json``), what
/build replies with, and the exit code, all from one frozen value."""

from __future__ import annotations

import dataclasses
import json

import pytest

from pipeline.images.outcome import Outcome
from pipeline.images.refs import BuildContext
from pipeline.steps.image_step import ImageStepResult

SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"


def outcome(name: str, ok: bool = True, **kw: object) -> Outcome:
    fields = {"project": name, "path": f"projects/{name}", "image": f"reg/ml/{name}"}
    return Outcome(**fields, tags=("src-1", "pr-3"), ok=ok, **kw)  # type: ignore[arg-type]


def test_a_run_reports_built_reused_and_failed_projects_and_fails_the_step() -> None:
    result = ImageStepResult(
        BuildContext("pr", SHA, 3),
        (),
        (
            outcome("a", digest="sha256:1", pushed=True),
            outcome("b", cache_hit=True, digest="sha256:2", pushed=True),
            outcome("c", ok=False, error="no Dockerfile in projects/c/"),
        ),
        deleted=("old",),
        api_calls=7,
    )
    assert [o.project for o in result.built] == ["a"]
    assert [o.project for o in result.cache_hits] == ["b"]
    assert result.failed == ("c",) and not result.ok and result.exit_code == 1
    data = json.loads(json.dumps(result.to_json()))
    assert list(data) == ["ok", "api_calls", "images", "failed", "deleted", "dags"]
    assert data["ok"] is False and data["api_calls"] == 7
    assert [i["project"] for i in data["images"]] == ["a", "b"]
    assert data["images"][0]["pinned"] == "reg/ml/a@sha256:1"
    assert data["failed"] == ["c"] and data["deleted"] == ["old"] and data["dags"] == []
    assert result.text_lines() == [
        "a: reg/ml/a:src-1 built",
        "b: reg/ml/b:src-1 cache hit",
        "c: reg/ml/c:src-1 FAILED: no Dockerfile in projects/c/",
    ]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.api_calls = 0  # type: ignore[misc]


def test_nothing_to_build_is_a_success_that_says_so() -> None:
    result = ImageStepResult(BuildContext("manual", SHA), ())
    assert result.ok and result.exit_code == 0
    assert result.text_lines() == ["nothing changed: nothing to build"]


def test_a_dry_run_prints_the_plan() -> None:
    result = ImageStepResult(
        BuildContext("main", SHA), (), deleted=("gone",), dry_run=True, push=True
    )
    assert result.to_json() == {
        "trigger": "main",
        "sha": SHA,
        "pr": None,
        "push": True,
        "projects": [],
        "deleted": ["gone"],
    }
