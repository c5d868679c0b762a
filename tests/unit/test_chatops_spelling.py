"""Allowlists cannot be bypassed by spelling: one canonical model name for the OWNERS check, the
deploy folder, the branch and the manifests; other spellings of a known model, hidden characters
and lookalikes are refused (attack tests through the comment flow)."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.chatops.handle import handle
from pipeline.chatops.parse import parse_comment
from pipeline.chatops.permissions import OWNERS_PATH
from pipeline.errors import UserError
from pipeline.online import deploy_repo
from pipeline.online.manifests import object_name
from pipeline.online.model_names import model_key
from pipeline.online.request import DeployRequest
from tests.fakes.chatops import MemoryForge, Recorder, comment_payload

OWNERS = b"projects:\n  churn-model: {users: [alice]}\n"
SPELLINGS = [
    "churn-model",
    "CHURN-MODEL",
    "churn_model",
    "Churn.Model",
    "churn__model",
    "churn-model-",
]


@pytest.mark.parametrize("name", SPELLINGS)
def test_every_spelling_has_one_canonical_name_folder_branch_and_objects(name: str) -> None:
    assert model_key(name) == "churn-model"
    assert deploy_repo.folder(name, "prod") == "prod/churn-model"
    assert deploy_repo.branch(name, "prod") == "somlier/deploy/churn-model-prod"
    assert object_name(name, "prod") == "churn-model-prod"


def test_long_names_are_cut_by_their_canonical_form() -> None:
    upper, lower = "A" * 63, "a" * 63
    assert deploy_repo.branch(upper, "prod") == deploy_repo.branch(lower, "prod")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("churn\u200bmodel", "hidden characters (U+200B)"),
        ("churn-model\u200d", "hidden characters (U+200D)"),
        ("\u202echurn", "hidden characters (U+202E)"),
        ("ｃｈｕｒｎ-model", "looks like 'churn-model'"),
        ("churn\uff3fmodel", "looks like 'churn_model'"),
        ("churn-model\n", "invalid model name"),
        ("çhurn", "invalid model name"),
    ],
)
def test_hidden_characters_and_lookalikes_are_refused_everywhere(name: str, why: str) -> None:
    with pytest.raises(UserError) as caught:
        model_key(name)
    assert why in caught.value.message
    with pytest.raises(UserError):  # the CLI, POST /deploy and /deploy all build this value
        DeployRequest(model_name=name, model_version="3")
    (command,) = parse_comment(f"/deploy {name} 3")
    assert command.error is not None and command.model is None


def flow(body: str, login: str, owners: bytes = OWNERS) -> tuple[MemoryForge, Recorder, Any]:
    forge = MemoryForge(roles={"alice": "write", "bob": "write"})
    forge.files[(OWNERS_PATH, "main")] = owners
    recorder = Recorder()
    report = handle(
        "issue_comment",
        comment_payload(body, login=login),
        forge_for=lambda repo: forge,
        actions=recorder.table(),
        dry_run=False,
        log=lambda line: None,
    )
    return forge, recorder, report


@pytest.mark.parametrize(
    "body",
    [
        "/rollback CHURN-MODEL --env prod",
        "/deploy churn_model 3",
        "/deploy Churn.Model 3 --env dev",
        "/rollback churn--model",
    ],
)
def test_a_writer_off_the_allowlist_cannot_act_on_another_spelling(body: str) -> None:
    forge, recorder, report = flow(body, "bob")
    assert recorder.ran == []
    (reply,) = forge.replies
    assert "@bob is not on the allowlist of project 'churn-model'" in reply
    assert not report.ok


def test_a_listed_writer_must_use_the_listed_spelling() -> None:
    forge, recorder, _ = flow("/deploy CHURN_MODEL 3\n/deploy churn-model 3", "alice")
    assert [text for _, text, _ in recorder.ran] == ["/deploy churn-model 3"]
    refused = next(r for r in forge.replies if "**refused**" in r)
    assert "differs only in case or separators from 'churn-model'" in refused


def test_owners_entries_for_one_model_in_two_spellings_refuse_everything() -> None:
    owners = b"projects:\n  churn-model: {users: [alice]}\n  Churn_Model: {users: [bob]}\n"
    forge, recorder, _ = flow("/deploy Churn_Model 3", "bob", owners)
    assert recorder.ran == []
    assert "differ only in case or separators" in forge.replies[0]


def test_the_allowlist_keyed_by_another_spelling_still_binds() -> None:
    owners = b"projects:\n  Churn_Model: {users: [alice]}\n"
    forge, recorder, _ = flow("/deploy churn-model 3", "bob", owners)
    assert recorder.ran == []
    assert "not on the allowlist of project 'Churn_Model'" in forge.replies[0]


class Page(list[Any]):
    token: str | None = None


class Registry:
    """The one MLflow client call :func:`check_spelling` makes, on a fixed list of names."""

    def __init__(self, *names: str) -> None:
        self.names = names
        self.filters: list[str] = []

    def search_registered_models(self, *, filter_string: str, **kw: Any) -> Page:
        from types import SimpleNamespace

        self.filters.append(filter_string)
        return Page(SimpleNamespace(name=n) for n in self.names)


def test_a_new_spelling_of_a_registered_model_is_refused_at_deploy_and_register() -> None:
    from pipeline.online.model_ref import check_spelling

    registry = Registry("churn-model", "other")
    check_spelling(registry, "churn-model", "sqlite:///m.db")  # the registered spelling
    with pytest.raises(UserError, match="differs only in case or separators from 'churn-model'"):
        check_spelling(registry, "CHURN_MODEL", "sqlite:///m.db")
    assert registry.filters[-1] == "name ILIKE 'churn%model'"


def test_post_deploy_refuses_hidden_characters_and_lookalikes(client: Any) -> None:
    """``POST /deploy`` builds the same checked request: the name is refused, said why."""
    from tests.helpers.api_fakes import AUTH, PAYLOAD

    for name, why in (("churn\u200bmodel", "hidden characters"), ("ｃｈｕｒｎ", "lookalike")):
        answer = client().post("/deploy", json={**PAYLOAD, "model_name": name}, headers=AUTH)
        assert answer.status_code == 422 and why in answer.text, answer.text
