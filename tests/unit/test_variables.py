"""Attacks on ``${VAR}`` from a pull request's somlier.yaml: the runner's secrets never come out.

The rule (``pipeline.config.variables``): a somlier.yaml reads only the variables listed in
``interpolation.allow``, never a secret's name in any spelling, and an error about a value read
from the environment shows the ``${VAR}`` it came from.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from pipeline.config import variables
from pipeline.config.interpolate import InterpolationError, interpolate
from pipeline.config.project import check_file, load_project
from pipeline.config.settings import PlatformSettings
from pipeline.config.settings_load import load_settings
from pipeline.config.validation import validate_files
from pipeline.config.variables import Variables, from_settings
from pipeline.config.variables_load import for_root
from pipeline.errors import ConfigError
from tests.helpers.files import WriteTree

SECRET = "ghp_s3cr3t-VALUE-that-must-never-show"
RUNNER = {
    "GITHUB_TOKEN": SECRET,
    "github_token": SECRET,  # a lower-case twin: environments are case-sensitive on Linux
    "SOMLIER_WEBHOOK_SECRET": SECRET,
    "SOMLIER_API_TOKEN": SECRET,
    "SOMLIER_REGISTRY_TOKEN": SECRET,
    "SLACK_BOT_TOKEN": SECRET,
    "MLFLOW_TRACKING_PASSWORD": SECRET,
    "MLFLOW_TRACKING_URI": f"https://user:{SECRET}@mlflow.example.com",
    "AWS_SECRET_ACCESS_KEY": SECRET,
    "GOOGLE_APPLICATION_CREDENTIALS": SECRET,
    "SOMLIER__MLFLOW__TRACKING_URI": f"https://user:{SECRET}@mlflow.example.com",
    "CI_BOT": SECRET,  # the token variable of a platform whose github.token_env names it
    "DB_PASS": SECRET,
    "EPOCHS": "7",
    "MODEL_VERSION": "not-a-version",
}
DEFAULT = from_settings(PlatformSettings())


class Recording(Mapping[str, str]):
    """An environment that records every name looked up in it."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._data = dict(values)
        self.asked: list[str] = []

    def __getitem__(self, name: str) -> str:
        self.asked.append(name)
        return self._data[name]

    def __contains__(self, name: object) -> bool:
        self.asked.append(str(name))
        return name in self._data

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the environment is never listed")

    def __len__(self) -> int:
        return len(self._data)


def rule(*allow: str, settings: PlatformSettings | None = None) -> Variables:
    found = from_settings(settings or PlatformSettings())
    return Variables(frozenset(allow), found.configured)


# --- the rule on one string -------------------------------------------------------------------


def test_an_allowed_variable_is_read() -> None:
    assert interpolate("e=${EPOCHS}", RUNNER, rule("EPOCHS")) == "e=7"
    assert interpolate("${UNSET_ONE:5}", RUNNER, rule("UNSET_ONE")) == "5"


@pytest.mark.parametrize("text", ["${EPOCHS}", "${EPOCHS:3}", "${epochs}", "a-${EPOCHS}-b"])
def test_a_variable_that_is_not_listed_is_an_error_even_with_a_default(text: str) -> None:
    environ = Recording(RUNNER)
    with pytest.raises(InterpolationError) as info:
        interpolate(text, environ, rule())
    assert "is not an allowed variable" in info.value.message
    assert "interpolation.allow" in info.value.hint
    assert environ.asked == []  # decided on the name: the environment is not even asked


SECRET_SPELLINGS = [
    "GITHUB_TOKEN",
    "github_token",
    "GitHub_Token",
    "GITHUB__TOKEN",
    "_GITHUB_TOKEN",
    "GITHUBTOKEN",
    "SOMLIER_WEBHOOK_SECRET",
    "somlier_webhook_secret",
    "SOMLIER_API_TOKEN",
    "SOMLIER_REGISTRY_TOKEN",
    "SLACK_BOT_TOKEN",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_PASSWORD",
    "AWS_SECRET_ACCESS_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "SOMLIER__MLFLOW__TRACKING_URI",
    "DB_PASS",
    "ACTIONS_RUNTIME_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "GH_TOKEN",
    "AZURE_CLIENT_SECRET",
    "KUBECONFIG",
    "PIP_INDEX_URL",
    "SSH_AUTH_SOCK",
    "OPENAI_API_KEY",
    "MY_API_KEY",
    "SENTRY_DSN",
]


@pytest.mark.parametrize("name", SECRET_SPELLINGS)
def test_a_secret_is_refused_even_when_listed(name: str) -> None:
    environ = Recording(RUNNER)
    for text in (f"${{{name}}}", f"${{{name}:fallback}}", f"x-${{{name}}}-y"):
        with pytest.raises(InterpolationError) as info:
            interpolate(text, environ, rule(name))
        assert "may not be read from a somlier.yaml" in info.value.message
        assert SECRET not in info.value.message + info.value.hint
    assert environ.asked == []


def test_the_configured_token_variables_are_refused_in_any_spelling() -> None:
    """A platform whose github.token_env is CI_BOT (a name with no secret word in it)."""
    settings = PlatformSettings(github=PlatformSettings().github.__class__(token_env="CI_BOT"))
    for name in ("CI_BOT", "ci_bot", "Ci__Bot", "CIBOT"):
        with pytest.raises(InterpolationError) as info:
            interpolate(f"${{{name}}}", RUNNER, rule(name, settings=settings))
        assert "github.token_env" in info.value.message


def test_every_env_setting_names_a_secret() -> None:
    found = from_settings(PlatformSettings()).configured
    assert set(found.values()) >= {
        "registry.token_env",
        "slack.token_env",
        "github.token_env",
        "github.webhook_secret_env",
        "api.token_env",
    }


@pytest.mark.parametrize(
    "text",
    [
        "${EPOCHS:${GITHUB_TOKEN}}",  # a default that names a secret
        "${NOPE:${GITHUB_TOKEN}}",
        "${EPOCHS:$${GITHUB_TOKEN}}",
        "${ GITHUB_TOKEN }",
        "${ github_token }",
        "${GITHUB_TOKEN }",
        "${\tGITHUB_TOKEN}",
        "${GІTHUB_TOKEN}",  # Cyrillic І
        "${ＧＩＴＨＵＢ_ＴＯＫＥＮ}",  # fullwidth letters
        "${GITHUB_TOKEN\u200b}",  # a zero-width space
        "${GITHUB_TOKEN\u0130}",
        "${GITHUB-TOKEN}",
        "${GITHUB.TOKEN}",
        "${$GITHUB_TOKEN}",
        "${{GITHUB_TOKEN}}",
    ],
)
def test_other_spellings_are_malformed_or_refused_and_read_nothing(text: str) -> None:
    environ = Recording(RUNNER)
    with pytest.raises(InterpolationError) as info:
        interpolate(text, environ, rule("EPOCHS", "NOPE"))
    assert SECRET not in info.value.message + info.value.hint
    assert environ.asked == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$${GITHUB_TOKEN}", "${GITHUB_TOKEN}"),
        ("$$${EPOCHS}", "$${EPOCHS}"),
        ("＄{GITHUB_TOKEN}", "＄{GITHUB_TOKEN}"),  # a fullwidth dollar is text
        ("$GITHUB_TOKEN", "$GITHUB_TOKEN"),
        ("$(GITHUB_TOKEN)", "$(GITHUB_TOKEN)"),
    ],
)
def test_escapes_and_other_syntaxes_are_text(text: str, expected: str) -> None:
    environ = Recording(RUNNER)
    assert interpolate(text, environ, rule("EPOCHS")) == expected
    assert environ.asked == []


def test_an_allowed_value_naming_a_secret_is_not_expanded_again() -> None:
    environ = {**RUNNER, "INNOCENT": "${GITHUB_TOKEN}"}
    assert interpolate("${INNOCENT}", environ, rule("INNOCENT")) == "${GITHUB_TOKEN}"


@pytest.mark.parametrize("name", ["AUTHOR", "MONKEY", "PASSENGER"])
def test_names_that_only_look_like_secrets_are_refused_with_the_reason(name: str) -> None:
    """The word rule errs on the safe side; the message says which word to avoid."""
    reason = variables.secret_reason(name, {})
    assert reason is not None and "so it is treated as a secret" in reason


@pytest.mark.parametrize("name", ["EPOCHS", "MODEL_STAGE", "IMAGE_TAG", "BUILD_NUMBER", "ENV"])
def test_ordinary_names_are_not_secrets(name: str) -> None:
    assert variables.secret_reason(name, DEFAULT.configured) is None


# --- a somlier.yaml from a pull request -------------------------------------------------------

PLATFORM = "interpolation: {allow: [EPOCHS, MODEL_VERSION, GITHUB_TOKEN, CI_BOT]}\n"
ATTACK = """\
project:
  name: leaky
  docker: {tags: ["${GITHUB_TOKEN}", "${github__token:latest}"]}
model:
  name: leaky
  version: "${SOMLIER_WEBHOOK_SECRET}"
  tags: ["${EPOCHS:${GITHUB_TOKEN}}", "${ github_token }"]
entrypoints:
  main: {command: python, args: [main.py, "${MLFLOW_TRACKING_URI}", "${AWS_SECRET_ACCESS_KEY:x}"]}
offline:
  - dag_id: leaky_daily
    schedule: "0 9 * * *"
    entrypoint: main
    description: "${GITHUB_TOKEN}"
    tags: ["${SOMLIER_API_TOKEN}", "${DB_PASS}"]
"""


def _monorepo(write_tree: WriteTree, root: Path, text: str) -> Path:
    write_tree(
        root,
        {
            ".somlier/platform.yaml": PLATFORM,
            "leaky/somlier.yaml": text,
            "leaky/requirements.txt": "",
        },
    )
    return root / "leaky" / "somlier.yaml"


def _env(tmp_path: Path) -> dict[str, str]:
    return {**RUNNER, "XDG_CACHE_HOME": str(tmp_path / "cache")}


def test_a_pull_request_cannot_read_secrets_through_the_loader(
    tmp_path: Path, write_tree: WriteTree
) -> None:
    path = _monorepo(write_tree, tmp_path, ATTACK)
    with pytest.raises(ConfigError) as info:
        load_project(path, _env(tmp_path), "leaky/somlier.yaml")
    text = info.value.render()
    assert SECRET not in text
    lines = text.splitlines()
    assert len(lines) == 10, text  # every ${...} of the file, each at its own place
    assert lines[0].startswith("leaky/somlier.yaml:3:20: error: ${GITHUB_TOKEN} may not be read")
    assert lines[1].startswith("leaky/somlier.yaml:3:39: error: ${github__token} may not be read")
    assert "leaky/somlier.yaml:6:13: error: ${SOMLIER_WEBHOOK_SECRET} may not be read" in text
    assert "leaky/somlier.yaml:14:19: error: ${GITHUB_TOKEN} may not be read" in text


def test_validate_files_reports_without_the_secret(tmp_path: Path, write_tree: WriteTree) -> None:
    path = _monorepo(write_tree, tmp_path, ATTACK)
    result = validate_files([path], _env(tmp_path), cwd=tmp_path, jobs=1)
    assert not result.ok
    dumped = json.dumps([d._asdict() for r in result.reports for d in r.diagnostics])
    assert SECRET not in dumped
    assert result.error_count == 10


def test_an_error_about_an_allowed_value_shows_the_variable_not_the_value(
    tmp_path: Path, write_tree: WriteTree
) -> None:
    text = (
        "project: {name: leaky}\n"
        'model: {name: leaky, version: "${MODEL_VERSION}"}\n'
        "entrypoints: {main: {command: python, args: [main.py]}}\n"
        'offline: [{dag_id: leaky_daily, schedule: "@daily", entrypoint: "run-${EPOCHS}"}]\n'
    )
    path = _monorepo(write_tree, tmp_path, text)
    report = check_file(path, "leaky/somlier.yaml", _env(tmp_path))
    messages = [d.format() for d in report.diagnostics]
    assert messages == [
        "leaky/somlier.yaml:2:31: error: model.version: '${MODEL_VERSION}' is not valid "
        '(a version starts with "v", e.g. v0.0.1)',
    ]
    fixed = text.replace("${MODEL_VERSION}", "v1")
    report = check_file(
        _monorepo(write_tree, tmp_path, fixed), "leaky/somlier.yaml", _env(tmp_path)
    )
    assert [d.message for d in report.diagnostics] == [
        "offline[0] uses entrypoint 'run-${EPOCHS}', which is not defined"
    ]


def test_a_duplicate_name_read_from_the_environment_is_shown_as_written(
    tmp_path: Path, write_tree: WriteTree
) -> None:
    body = "model: {{name: m, version: v1}}\nentrypoints: {{main: {{command: python}}}}\n"
    write_tree(
        tmp_path,
        {
            ".somlier/platform.yaml": "interpolation: {allow: [SHARED_NAME]}\n",
            "a/somlier.yaml": "project: {name: same-name}\n" + body.format(),
            "a/requirements.txt": "",
            "b/somlier.yaml": 'project: {name: "${SHARED_NAME}"}\n' + body.format(),
            "b/requirements.txt": "",
        },
    )
    files = [tmp_path / "a" / "somlier.yaml", tmp_path / "b" / "somlier.yaml"]
    environ = {**_env(tmp_path), "SHARED_NAME": "same-name"}
    result = validate_files(files, environ, cwd=tmp_path, jobs=1)
    (diag,) = [d for r in result.reports for d in r.diagnostics]
    assert diag.message == "project '${SHARED_NAME}' is already used by a/somlier.yaml"


def test_without_a_platform_file_nothing_is_allowed(tmp_path: Path, write_tree: WriteTree) -> None:
    write_tree(
        tmp_path,
        {
            "p/somlier.yaml": "project: {name: p}\nmodel: {name: p, version: v1}\n"
            'entrypoints: {main: {command: python, args: ["${EPOCHS:3}"]}}\n',
            "p/requirements.txt": "",
        },
    )
    report = check_file(tmp_path / "p" / "somlier.yaml", "p/somlier.yaml", _env(tmp_path))
    assert [d.format() for d in report.diagnostics] == [
        "p/somlier.yaml:3:47: error: ${EPOCHS} is not an allowed variable: a somlier.yaml reads "
        "only the variables listed in interpolation.allow of .somlier/platform.yaml (write the "
        "value itself, or have the platform add EPOCHS to interpolation.allow)"
    ]


# --- the rule comes from the settings (and their cache) ---------------------------------------


def test_the_allowlist_and_the_token_names_follow_the_settings_and_their_overrides(
    tmp_path: Path, write_tree: WriteTree
) -> None:
    write_tree(tmp_path, {".somlier/platform.yaml": "interpolation: {allow: [EPOCHS]}\n"})
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    for _ in range(2):  # the second load comes from the settings cache
        assert for_root(tmp_path, env).allow == {"EPOCHS"}
    overridden = {**env, "SOMLIER__INTERPOLATION__ALLOW": "[STAGE, EPOCHS]"}
    for _ in range(2):
        assert for_root(tmp_path, overridden).allow == {"STAGE", "EPOCHS"}
    assert for_root(tmp_path, env).allow == {"EPOCHS"}
    renamed = {**env, "SOMLIER__GITHUB__TOKEN_ENV": "CI_BOT"}
    assert for_root(tmp_path, renamed).refusal("ci_bot") is not None
    assert load_settings(tmp_path, overridden).interpolation.allow == ("STAGE", "EPOCHS")


def test_broken_settings_allow_nothing(tmp_path: Path, write_tree: WriteTree) -> None:
    write_tree(tmp_path, {".somlier/platform.yaml": "interpolation: {allow: [EPOCHS], x: 1}\n"})
    assert for_root(tmp_path, {"XDG_CACHE_HOME": str(tmp_path / "cache")}).allow == frozenset()


def test_the_schema_refuses_a_name_that_is_not_a_variable(
    tmp_path: Path, write_tree: WriteTree
) -> None:
    write_tree(tmp_path, {".somlier/platform.yaml": 'interpolation: {allow: ["A B"]}\n'})
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, {"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert "interpolation.allow[0]" in info.value.render()
