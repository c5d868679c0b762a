"""Pytest fixtures and client helpers for tests that talk to the fakes.

Import the fixture functions into a test module; pytest registers them under their short
names, and the import does not clash with the test's parameter names::

    from tests.fakes.fixtures import fake_github_fixture, fake_slack_fixture  # noqa: F401

    def test_report(fake_github, fake_slack): ...

``fake_github`` checks, when the test ends, that every answer it gave was shaped as GitHub's
description says (see :mod:`tests.fakes.honesty`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from github import Auth, Github
from slack_sdk import WebClient

from tests.fakes.github import FakeGitHub
from tests.fakes.honesty import check_all_answers
from tests.fakes.slack import FakeSlack


def pygithub(fake: FakeGitHub, token: str = "test-token", **kwargs: Any) -> Github:
    """PyGithub pointed at the fake, without its waits.

    PyGithub sleeps 0.25 s between requests and 1 s between writes by default, and its default
    retry repeats a POST after a 5xx (a duplicate comment after a 502-after-create): both are off
    here unless the test passes ``retry=`` / ``seconds_between_*=`` itself.
    """
    kwargs.setdefault("retry", None)
    kwargs.setdefault("seconds_between_requests", 0)
    kwargs.setdefault("seconds_between_writes", 0)
    return Github(base_url=fake.url, auth=Auth.Token(token), **kwargs)


def slack_web(fake: FakeSlack, token: str = "xoxb-test", **kwargs: Any) -> WebClient:
    """slack-sdk pointed at the fake (``base_url`` must end in ``/api/``)."""
    kwargs.setdefault("timeout", 5)
    return WebClient(token=token, base_url=fake.api_url, **kwargs)


@pytest.fixture(name="fake_github")
def fake_github_fixture() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        yield fake
        check_all_answers(fake)


@pytest.fixture(name="fake_slack")
def fake_slack_fixture() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake
        assert fake.errors == [], "\n".join(fake.errors)
