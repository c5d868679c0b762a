"""Fakes of the SaaS we cannot run on the test machine, at their HTTP seam.

- :class:`FakeGitHub`: GitHub REST (PyGithub ``Github(base_url=fake.url, …)``), stateful.
- :class:`FakeSlack`: Slack Web API (slack-sdk ``WebClient(base_url=fake.api_url)``).

Both listen on 127.0.0.1 (a free port), record every request in ``fake.requests`` (without the
Authorization header) and take faults with ``fake.inject(...)``.

``tests.fakes.fixtures``: the ``fake_github`` / ``fake_slack`` fixtures and ready clients
(``pygithub(fake)``, ``slack_web(fake)``). ``tests.fakes.honesty.check_all_answers(fake)``
parses every answer the fake GitHub gave with githubkit's models of GitHub's OpenAPI
description; tests/integration/test_fakes.py runs it over every route.
"""

from tests.fakes.faults import Fault
from tests.fakes.github import FakeGitHub
from tests.fakes.server import RecordedRequest
from tests.fakes.slack import FakeSlack, Message

__all__ = ["FakeGitHub", "FakeSlack", "Fault", "Message", "RecordedRequest"]
