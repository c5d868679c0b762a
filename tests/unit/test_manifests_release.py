"""The release record in the deploy repository: what a deploy appends, what a rollback picks."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from pipeline.config.model import OnlineSpec
from pipeline.config.settings import PlatformSettings
from pipeline.errors import UserError
from pipeline.online import deploy_repo, manifests, release
from pipeline.online.manifests import ServingSpec
from pipeline.online.request import DeployRequest


def spec(version: str, port: int = 3000) -> ServingSpec:
    return manifests.serving_spec(
        DeployRequest("iris", version),
        online=OnlineSpec(port=port),
        settings=PlatformSettings(),
        image=f"reg.example/model-serving@sha256:{version * 64}"[:97],
    )


def release_yaml(history: list[dict[str, Any]]) -> str:
    made = manifests.render(spec("1"), release=release.release_record("iris", "dev", history))
    return next(m.text for m in made if m.kind == "ConfigMap")


def test_deploys_append_and_a_redeploy_appends_nothing() -> None:
    history = release.after_deploy([], spec("1"))
    history = release.after_deploy(history, spec("2"))
    assert release.after_deploy(history, spec("2")) == history
    assert [e["version"] for e in history] == ["1", "2"]
    assert [e["action"] for e in history] == ["deploy", "deploy"]


def test_the_history_survives_the_release_file() -> None:
    history = release.after_deploy(release.after_deploy([], spec("1")), spec("2", port=8080))
    read = release.read_history(release_yaml(history), "dev/iris/release.yaml")
    assert read == history
    assert ServingSpec.from_json(read[0]["spec"]) == spec("1")


def test_rollback_picks_the_release_before_and_pops_the_current_one() -> None:
    history = [release.entry(spec(v), "deploy") for v in ("1", "2", "3")]
    target, remaining = release.rollback_target(history, "here")
    assert target == spec("2")
    assert [e["version"] for e in remaining] == ["1", "2"]
    target, remaining = release.rollback_target(remaining, "here")  # and once more
    assert target == spec("1") and len(remaining) == 1


@pytest.mark.parametrize(("count", "text"), [(0, "nothing deployed yet"), (1, "only one release")])
def test_no_rollback_without_an_earlier_release(count: int, text: str) -> None:
    history = [release.entry(spec("1"), "deploy")][:count]
    with pytest.raises(UserError) as caught:
        release.rollback_target(history, "dev/iris/release.yaml")
    assert text in caught.value.message
    assert caught.value.message.startswith("dev/iris/release.yaml: ")


def test_the_history_is_capped() -> None:
    history: list[dict[str, Any]] = []
    for version in range(1, 30):
        history = release.after_deploy(history, spec(str(version)))
    record = release.release_record("iris", "dev", history)
    assert len(record["history"]) == release.MAX_HISTORY
    assert record["history"][-1]["version"] == "29"


@pytest.mark.parametrize(
    "text",
    [
        "not: [yaml",
        "kind: ConfigMap\n",
        yaml.safe_dump({"data": {"release.json": "{"}}),
        yaml.safe_dump({"data": {"release.json": json.dumps({"history": [1]})}}),
    ],
)
def test_a_damaged_release_file_is_a_user_error(text: str) -> None:
    with pytest.raises(UserError) as caught:
        release.read_history(text, "dev/iris/release.yaml")
    assert caught.value.message.startswith("dev/iris/release.yaml: ")


def test_release_text_with_line_breaks_and_unicode_stays_one_value() -> None:
    record = {"history": [], "note": "a\nb: c\n---\nkind: Secret", "ü": "ẞ"}
    made = manifests.render(spec("1"), release=record)
    [doc] = list(yaml.safe_load_all(next(m.text for m in made if m.kind == "ConfigMap")))
    assert json.loads(doc["data"]["release.json"]) == record


def test_branch_and_folder_per_model_and_environment() -> None:
    assert deploy_repo.branch("Iris_Classifier", "prod") == "somlier/deploy/iris-classifier-prod"
    assert deploy_repo.folder("Iris_Classifier", "prod") == "prod/iris-classifier"
