"""Platform settings: the file, ``SOMLIER__SECTION__KEY`` overrides, errors, and secrets."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.config import settings
from pipeline.config.settings import PlatformSettings, Toleration
from pipeline.config.settings_load import apply_environment, load_settings
from pipeline.errors import ConfigError, Diagnostic, UserError
from pipeline.secret import Secret, secret

WriteTree = Callable[[Path, dict[str, Any]], Path]
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ml-projects"

PLATFORM = """\
registry:
  url: 127.0.0.1:5000/ml
  image_prefix: ml-
builder:
  parallelism: 3
kubernetes:
  version: "1.29"
airflow:
  tags: [data-group, ml]
"""


@pytest.fixture
def root(tmp_path: Path, write_tree: WriteTree) -> Path:
    return write_tree(tmp_path, {".somlier/platform.yaml": PLATFORM})


def errors(root: Path | None, environ: dict[str, str]) -> list[Diagnostic]:
    with pytest.raises(ConfigError) as info:
        load_settings(root, environ)
    assert info.value.diagnostics, "a ConfigError must carry at least one diagnostic"
    return info.value.diagnostics


def test_defaults_without_a_file() -> None:
    loaded = load_settings(None, {})
    assert loaded == PlatformSettings()
    assert loaded.source is None
    assert loaded.builder.type == "docker"
    assert loaded.slack.channel == "#dp_monitor_cicd"


def test_a_root_without_a_file_gives_defaults(tmp_path: Path) -> None:
    assert load_settings(tmp_path, {}) == PlatformSettings()


def test_the_file_is_read(root: Path) -> None:
    loaded = load_settings(root, {})
    assert loaded.source == root / ".somlier" / "platform.yaml"
    assert loaded.registry.url == "127.0.0.1:5000/ml"
    assert loaded.registry.image_prefix == "ml-"
    assert loaded.builder.parallelism == 3
    assert loaded.kubernetes.version == "1.29"
    assert loaded.airflow.tags == ("data-group", "ml")
    assert loaded.kubernetes.namespace == "mlops"  # not in the file: the default


@pytest.mark.parametrize(
    ("variable", "raw", "attribute", "expected"),
    [
        ("SOMLIER__BUILDER__PARALLELISM", "8", ("builder", "parallelism"), 8),
        ("SOMLIER__REGISTRY__INSECURE", "true", ("registry", "insecure"), True),
        ("SOMLIER__REGISTRY__URL", "registry.example.com/ml", ("registry", "url"), None),
        ("SOMLIER__REGISTRY__IMAGE_PREFIX", "007", ("registry", "image_prefix"), None),
        ("SOMLIER__KUBERNETES__VERSION", "1.31", ("kubernetes", "version"), None),
        ("SOMLIER__BUILDER__BASE_IMAGE", "python:3.12", ("builder", "base_image"), None),
        ("SOMLIER__BUILDER__TYPE", "cloudbuild", ("builder", "type"), None),
        ("SOMLIER__SLACK__CHANNEL", "#ml-alerts", ("slack", "channel"), None),
        ("SOMLIER__GITHUB__PROJECTS_REPO", "org/123", ("github", "projects_repo"), None),
        ("SOMLIER__MLFLOW__TRACKING_URI", "true", ("mlflow", "tracking_uri"), None),
        (
            "SOMLIER__BUILDER__CLOUDBUILD__PROJECT",
            "123456",
            ("builder", "cloudbuild", "project"),
            None,
        ),
        (
            "SOMLIER__BUILDER__CLOUDBUILD__TIMEOUT_SECONDS",
            "600",
            ("builder", "cloudbuild", "timeout_seconds"),
            600,
        ),
        ("SOMLIER__AIRFLOW__TAGS", "[a, b]", ("airflow", "tags"), ("a", "b")),
        ("SOMLIER__AIRFLOW__VERSION", "2", ("airflow", "version"), 2),
    ],
)
def test_environment_overrides(
    root: Path, variable: str, raw: str, attribute: tuple[str, ...], expected: Any
) -> None:
    """Integers, booleans and lists are parsed; a string setting keeps the text as written."""
    loaded: Any = load_settings(root, {variable: raw, "UNRELATED": "x"})
    for part in attribute:
        loaded = getattr(loaded, part)
    assert loaded == (raw if expected is None else expected)
    assert type(loaded) is (str if expected is None else type(expected))


def test_environment_beats_the_file_and_keeps_the_rest(root: Path) -> None:
    loaded = load_settings(root, {"SOMLIER__BUILDER__PARALLELISM": "5"})
    assert loaded.builder.parallelism == 5
    assert loaded.registry.url == "127.0.0.1:5000/ml"


def test_overrides_without_a_file() -> None:
    loaded = load_settings(None, {"SOMLIER__REGISTRY__URL": "127.0.0.1:5000/ml"})
    assert loaded.registry.url == "127.0.0.1:5000/ml"
    assert loaded.source is None


def test_apply_environment_reports_the_variables_used() -> None:
    data: dict[str, Any] = {"registry": {"url": "old"}}
    used = apply_environment(
        data,
        {"SOMLIER__REGISTRY__URL": "new", "SOMLIER__BUILDER__PARALLELISM": "4", "HOME": "/root"},
    )
    assert used == ["SOMLIER__BUILDER__PARALLELISM", "SOMLIER__REGISTRY__URL"]
    assert data == {"registry": {"url": "new"}, "builder": {"parallelism": 4}}


def test_lower_case_variables_are_not_overrides() -> None:
    data: dict[str, Any] = {}
    assert apply_environment(data, {"somlier__registry__url": "x"}) == []
    assert data == {}


@pytest.mark.parametrize(
    ("variable", "raw", "words"),
    [
        ("SOMLIER__BUILDER__PARALLELISM", "many", "builder.parallelism: expected a whole number"),
        ("SOMLIER__BUILDER__PARALLELISM", "0", "builder.parallelism: must be at least 1"),
        ("SOMLIER__BUILDER__TYPE", "kaniko", "'kaniko' is not one of 'docker', 'cloudbuild'"),
        ("SOMLIER__REGISTRY__INSECURE", "maybe", "registry.insecure: expected true or false"),
        ("SOMLIER__GITHUB__DAGS_REPO", "no-slash", "write owner/name"),
        ("SOMLIER__REGISTRY", "x", "registry: expected a mapping"),
        ("SOMLIER__MONOREPO__GLOBAL_PATHS", "docker/**", "expected a list"),
        ("SOMLIER__AIRFLOW__VERSION", "1", "airflow.version: 1 is not one of '2', '3'"),
    ],
)
def test_an_error_names_the_variable(root: Path, variable: str, raw: str, words: str) -> None:
    [diag] = errors(root, {variable: raw})
    assert diag.path == variable
    assert (diag.line, diag.col) == (0, 0)
    assert words in diag.format()
    assert diag.format().startswith(f"{variable}: error: ")


@pytest.mark.parametrize(
    ("variable", "message", "hint"),
    [
        ("SOMLIER__REGISTRY__TOKEN", "unknown key 'token' in registry", "token_env"),
        (
            "SOMLIER__BUILDER__PARALELISM",
            "unknown key 'paralelism' in builder",
            "did you mean 'parallelism'?",
        ),
        ("SOMLIER__REGISTRYY__URL", "unknown key 'registryy'", "did you mean 'registry'?"),
    ],
)
def test_an_unknown_key_from_the_environment(variable: str, message: str, hint: str) -> None:
    [diag] = errors(None, {variable: "x"})
    assert diag.path == variable
    assert diag.message == message
    assert hint in diag.hint


def test_an_unknown_key_in_the_file_is_located(tmp_path: Path, write_tree: WriteTree) -> None:
    root = write_tree(tmp_path, {".somlier/platform.yaml": PLATFORM + "slack:\n  chanel: x\n"})
    [diag] = errors(root, {})
    assert diag.path == str(root / ".somlier" / "platform.yaml")
    assert (diag.line, diag.col) == (11, 3)
    assert diag.message == "unknown key 'chanel' in slack"
    assert diag.hint == "did you mean 'channel'?"


def test_errors_from_the_file_and_the_environment_together(root: Path) -> None:
    path = root / ".somlier" / "platform.yaml"
    path.write_text(PLATFORM.replace("parallelism: 3", "parallelism: lots"), encoding="utf-8")
    found = errors(root, {"SOMLIER__KUBERNETES__NAMESPACE": "Not_A_Label"})
    assert sorted((d.path, d.line) for d in found) == sorted(
        [(str(path), 5), ("SOMLIER__KUBERNETES__NAMESPACE", 0)]
    )


def test_an_empty_section_in_a_variable_name() -> None:
    with pytest.raises(UserError) as info:
        load_settings(None, {"SOMLIER____URL": "x"})
    assert "SOMLIER____URL" in info.value.message
    assert not isinstance(info.value, ConfigError)


def test_a_value_where_a_section_is_expected(root: Path) -> None:
    with pytest.raises(UserError) as info:
        load_settings(root, {"SOMLIER__REGISTRY__URL__HOST": "x"})
    assert info.value.message == "SOMLIER__REGISTRY__URL__HOST: url is not a section"


def test_interpolation_in_the_file(tmp_path: Path, write_tree: WriteTree) -> None:
    text = "registry:\n  url: ${REGISTRY:127.0.0.1:5000}/ml\nslack:\n  channel: ${CHANNEL}\n"
    root = write_tree(tmp_path, {".somlier/platform.yaml": text})
    loaded = load_settings(root, {"CHANNEL": "#ml"})
    assert loaded.registry.url == "127.0.0.1:5000/ml"
    assert loaded.slack.channel == "#ml"
    [diag] = errors(root, {})
    assert (diag.line, diag.col) == (4, 12)
    assert diag.message == "environment variable CHANNEL is not set"


def test_a_broken_file_is_located(tmp_path: Path, write_tree: WriteTree) -> None:
    root = write_tree(tmp_path, {".somlier/platform.yaml": "registry:\n\turl: x\n"})
    [diag] = errors(root, {})
    assert (diag.line, diag.col) == (2, 1)
    assert "tab" in diag.message


def test_a_trailing_newline_in_an_override_is_reported() -> None:
    """Regression: the fast validator refused it, the full one found nothing: no message."""
    [diag] = errors(None, {"SOMLIER__KUBERNETES__NAMESPACE": "mlops\n"})
    assert diag.path == "SOMLIER__KUBERNETES__NAMESPACE"
    assert "kubernetes.namespace" in diag.message


def test_a_date_given_for_a_number_is_described_truthfully() -> None:
    [diag] = errors(None, {"SOMLIER__BUILDER__PARALLELISM": "2024-01-01"})
    assert "got a mapping" not in diag.message


# --- secrets --------------------------------------------------------------------------------

TOKEN = "ghp_s3cr3t-T0KEN-value"


def test_secret_is_redacted_everywhere_but_reveal(caplog: pytest.LogCaptureFixture) -> None:
    token = Secret(TOKEN)
    assert token.reveal() == TOKEN
    shown = [
        repr(token),
        str(token),
        f"{token}",
        f"{token!r}",
        "%s %r" % (token, token),  # noqa: UP031
        "{} {!r}".format(token, token),  # noqa: UP032
        format(token, ""),
        repr([token]),
        repr({"token": token}),
        repr((token,)),
    ]
    with caplog.at_level(logging.INFO):
        logging.getLogger("somlier.test").info("token %s", token)
    shown.append(caplog.text)
    for text in shown:
        assert TOKEN not in text
        assert "***" in text


def test_secret_has_no_instance_dict() -> None:
    """Nothing like vars() or a generic dataclass/attrs repr can reach the value."""
    token = Secret(TOKEN)
    assert not hasattr(token, "__dict__")
    with pytest.raises(TypeError):
        vars(token)


def test_secret_in_a_dataclass_repr_is_redacted() -> None:
    toleration = Toleration(key="k", value=Secret(TOKEN))  # type: ignore[arg-type]
    assert TOKEN not in repr(toleration)


def test_secret_reads_the_named_variable() -> None:
    loaded = load_settings(None, {})
    environ = {"GITHUB_TOKEN": TOKEN, "SLACK_BOT_TOKEN": ""}
    token = secret(loaded.github.token_env, environ)
    assert token is not None
    assert token.reveal() == TOKEN
    assert secret(loaded.slack.token_env, environ) is None  # empty means unset
    assert secret(loaded.registry.token_env, environ) is None


def test_settings_hold_variable_names_never_tokens() -> None:
    loaded = load_settings(None, {"GITHUB_TOKEN": TOKEN, "SLACK_BOT_TOKEN": TOKEN})
    assert TOKEN not in repr(loaded)
    for section in ("registry", "slack", "github"):
        name = getattr(loaded, section).token_env
        assert name.isupper()


def test_a_token_named_in_the_environment_is_not_printed_in_errors() -> None:
    found = errors(None, {"SOMLIER__GITHUB__TOKEN_ENV": TOKEN})
    assert all(d.path == "SOMLIER__GITHUB__TOKEN_ENV" for d in found)


# --- the example ----------------------------------------------------------------------------


def test_example_platform_settings_load() -> None:
    loaded = load_settings(EXAMPLE, {})
    assert loaded.source == EXAMPLE / ".somlier" / "platform.yaml"
    assert loaded.registry.url == ""
    assert loaded.registry.image_prefix == "ml-"
    assert loaded.builder.type == "docker"
    assert loaded.builder.parallelism == 2
    assert loaded.github.projects_repo == "example-org/ml-projects"
    assert loaded.github.dags_repo == "example-org/mlops-dags"
    assert loaded.github.deploy_repo == "example-org/mlops-deploy"
    assert loaded.kubernetes.version == "1.30"
    assert loaded.monorepo.global_paths == (".somlier/platform.yaml", "docker/**")
    t4 = loaded.gpu_types["nvidia-tesla-t4"]
    assert t4.node_selector == (("cloud.google.com/gke-accelerator", "nvidia-tesla-t4"),)
    assert t4.tolerations == (
        Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule"),
    )


def test_the_settings_are_frozen() -> None:
    loaded = load_settings(None, {})
    with pytest.raises(AttributeError):
        loaded.builder.parallelism = 9  # type: ignore[misc]
    assert Path(".somlier") / "platform.yaml" == settings.FILENAME
