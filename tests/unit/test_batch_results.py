"""A matrix build's batches leave result files; the one report job reads them back, and past a
threshold the commit statuses are summarised in one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.errors import UserError
from pipeline.images.outcome import Outcome
from pipeline.images.refs import BuildContext
from pipeline.steps import batch_results, flow
from pipeline.steps.image_step import ImageStepResult

SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"


def outcome(name: str, ok: bool = True, **kw: object) -> Outcome:
    fields = {"project": name, "path": f"projects/{name}", "image": f"reg/ml/{name}"}
    return Outcome(**fields, tags=("src-1", "pr-3"), ok=ok, **kw)  # type: ignore[arg-type]


def batch(tmp_path: Path, name: str, *outcomes: Outcome, pr: int = 3) -> Path:
    path = tmp_path / "results" / f"{name}.json"
    result = ImageStepResult(BuildContext("pr", SHA, pr), (), outcomes, deleted=("gone",))
    batch_results.write(result, path)
    return path


def test_the_batches_read_back_as_one_build_in_folder_order(tmp_path: Path) -> None:
    failed = outcome("c", ok=False, error="boom", log_tail=("line 1", "line 2"), seconds=2.5)
    batch(tmp_path, "batch-2", outcome("b", cache_hit=True, digest="sha256:2", pushed=True))
    batch(tmp_path, "batch-1", failed, outcome("a", digest="sha256:1", pushed=True))
    found = batch_results.collect([tmp_path / "results"])
    assert found.context == BuildContext("pr", SHA, 3) and found.files == 2
    assert [o.project for o in found.outcomes] == ["a", "b", "c"]
    assert found.outcomes[2] == failed  # every field survives the file
    assert found.deleted == ("gone",)


def test_a_project_in_two_batches_or_batches_of_two_builds_are_refused(tmp_path: Path) -> None:
    one = batch(tmp_path, "one", outcome("a"))
    two = batch(tmp_path, "two", outcome("a"))
    with pytest.raises(UserError, match="a is in two batches"):
        batch_results.collect([one, two])
    other = batch(tmp_path, "other", outcome("b"), pr=4)
    with pytest.raises(UserError, match="of different builds"):
        batch_results.collect([one, other])


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        "[" * 100_000,  # nested too deeply for the parser
        '{"kind": "somlier-build-batch", "version": 1, "trigger": "pr", "sha": "x", "pr": true,'
        ' "deleted": [], "outcomes": []}',
        '{"kind": "somlier-build-batch", "version": 1}',
        '{"kind": "somlier-build-batch", "version": 1, "trigger": "pr", "sha": "x", "pr": 1,'
        ' "deleted": [], "outcomes": [{"project": "a"}]}',
    ],
)
def test_a_file_that_is_not_a_batch_result_is_a_user_error(tmp_path: Path, text: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    with pytest.raises(UserError, match=r"bad\.json"):
        batch_results.collect([bad])


def test_a_wrongly_typed_field_is_named(tmp_path: Path) -> None:
    path = batch(tmp_path, "one", outcome("a"))
    data = json.loads(path.read_text())
    data["outcomes"][0]["ok"] = "yes"
    path.write_text(json.dumps(data))
    with pytest.raises(UserError, match="ok is not a bool"):
        batch_results.collect([path])


def test_nothing_to_report_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no batch results"):
        batch_results.collect([tmp_path / "empty"])
    with pytest.raises(UserError, match="no such file"):
        batch_results.collect([tmp_path / "missing"])


def test_statuses_are_one_per_project_up_to_the_threshold_then_one_in_all() -> None:
    few = [outcome(f"p{i}") for i in range(flow.STATUSES_PER_PROJECT_UP_TO)]
    assert [name for name, _, _ in flow.final_statuses(few)] == [o.project for o in few]
    many = [*few, outcome("hit", cache_hit=True), outcome("bad", ok=False, error="x")]
    assert flow.final_statuses(many) == [
        ("all", "failure", "52 images: 50 built, 1 cache hits, 1 failed")
    ]
    assert flow.pending_statuses([o.project for o in many]) == [("all", "building 52 images")]
    assert len(flow.pending_statuses(["a", "b"])) == 2


def test_a_report_of_thousands_of_projects_fits_a_comment_and_lists_failures_first() -> None:
    from pipeline.steps import report

    many = [outcome(f"p{i:05d}", cache_hit=True) for i in range(10_000)]
    many[7_000] = outcome("p07000", ok=False, error="no Dockerfile", log_tail=("boom",))
    body = report.comment(many, title="t")
    assert len(body) <= 65_536  # GitHub refuses a longer comment
    rows = [line for line in body.splitlines() if line.startswith("| p0")]
    assert rows[0].startswith("| p07000 | ❌ failed |") and "boom" in body
    assert "more projects (0 built, " in body and "cache hits, 0 failed)" in body
    shown = len(rows) + int(body.split("… and ")[1].split(" ")[0])
    assert shown == 10_000
    few = [outcome("a"), outcome("b", ok=False, error="x")]
    assert report.comment(few, title="t").count("| a |") == 1  # small reports: unchanged
    message = report.slack(many, title="t", link=None)
    assert message.lines == (
        "10000 images: 0 built, 9999 cache hits, 1 failed",
        "• p07000: FAILED: no Dockerfile",
    )
