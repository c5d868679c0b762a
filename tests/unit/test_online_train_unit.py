"""somlier online train/register, the pure parts: the --param grid, tracking URI precedence and
redaction, finding the project in a checkout, name checks of register, and the CLI's refusals
that come before any git or MLflow call."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli.main import main
from pipeline.errors import UserError
from pipeline.online import register, tracking, train
from tests.helpers.files import WriteTree

PROJECT = """\
project: {name: NAME}
model: {name: NAME, version: v1.0.0}
entrypoints:
  train: {command: python, args: [train.py]}
"""


def test_params_expand_to_every_combination_first_key_slowest() -> None:
    grid = train.parse_params(["lr=0.1,0.01", "depth=3,5,3", "seed=7"])
    assert grid == (("lr", ("0.1", "0.01")), ("depth", ("3", "5")), ("seed", ("7",)))
    assert train.expand(grid) == [
        {"lr": "0.1", "depth": "3", "seed": "7"},
        {"lr": "0.1", "depth": "5", "seed": "7"},
        {"lr": "0.01", "depth": "3", "seed": "7"},
        {"lr": "0.01", "depth": "5", "seed": "7"},
    ]
    assert train.expand(()) == [{}]
    assert train.param_args({"lr": "0.1", "name": "a b"}) == ["--lr", "0.1", "--name", "a b"]


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["lr"], "is not KEY=VALUE"),
        (["=1"], "is not KEY=VALUE"),
        (["-lr=1"], "is not KEY=VALUE"),
        (["lr=1,,2"], "has an empty value"),
        (["lr="], "has an empty value"),
        (["lr=1", "lr=2"], "is given twice"),
    ],
)
def test_bad_params_are_user_errors(items: list[str], message: str) -> None:
    with pytest.raises(UserError, match=message):
        train.parse_params(items)


def test_tracking_uri_precedence_env_then_settings_then_default(tmp_path: Path) -> None:
    env = tracking.resolve(root=tmp_path, settings_uri="http://s:5000", env_uri="http://e:5000")
    assert (env.uri, env.source) == ("http://e:5000", "environment")
    settings = tracking.resolve(root=tmp_path, settings_uri="http://s:5000", env_uri="")
    assert (settings.uri, settings.source, settings.is_local) == (
        "http://s:5000",
        "settings",
        False,
    )
    local = tracking.resolve(root=tmp_path, settings_uri="sqlite:////data/m.db", env_uri=None)
    assert local.artifact_root == Path("/data/mlartifacts")
    default = tracking.resolve(root=tmp_path, settings_uri="", env_uri=None)
    assert default.source == "default" and default.is_local
    assert default.uri == f"sqlite:///{tmp_path.resolve()}/.somlier/mlflow.db"
    assert default.artifact_root == tmp_path.resolve() / ".somlier" / "mlartifacts"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://user:s3cret@mlflow.example/x", "https://***@mlflow.example/x"),
        ("https://ghp_token@github.com/o/r.git", "https://***@github.com/o/r.git"),
        ("error at http://a:b@h:5000/api and http://c:d@h2/", "error at http://***@h:5000/api and http://***@h2/"),
        ("http://mlflow:5000", "http://mlflow:5000"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)  # fmt: skip
def test_credentials_in_urls_are_redacted(text: str, shown: str) -> None:
    assert tracking.redact(text) == shown
    assert "s3cret" not in tracking.Tracking(text, "environment").shown


def test_child_processes_get_credentials_apart_from_the_uri() -> None:
    secret = tracking.Tracking("https://me%40corp:p%3Ass@mlflow.example:8443/x", "environment")
    assert tracking.child_environment(secret) == {
        "MLFLOW_TRACKING_URI": "https://mlflow.example:8443/x",
        "MLFLOW_TRACKING_USERNAME": "me@corp",
        "MLFLOW_TRACKING_PASSWORD": "p:ss",
    }
    plain = tracking.Tracking("http://mlflow:5000", "settings")
    assert tracking.child_environment(plain) == {"MLFLOW_TRACKING_URI": "http://mlflow:5000"}


def test_project_by_path_or_by_unique_folder_name(tmp_path: Path, write_tree: WriteTree) -> None:
    write_tree(
        tmp_path,
        {
            "projects/churn/somlier.yaml": PROJECT.replace("NAME", "churn"),
            "projects/fraud/somlier.yaml": PROJECT.replace("NAME", "fraud"),
        },
    )
    by_path = train.find_project(tmp_path, "projects/churn")
    assert by_path == tmp_path / "projects/churn/somlier.yaml"
    assert train.find_project(tmp_path, "fraud") == tmp_path / "projects/fraud/somlier.yaml"
    with pytest.raises(UserError) as caught:
        train.find_project(tmp_path, "nope")
    assert caught.value.hint == "projects: projects/churn, projects/fraud"
    for outside in ("../x", "projects/../../x", ""):
        with pytest.raises(UserError, match="is not a project folder"):
            train.find_project(tmp_path, outside)


@pytest.mark.parametrize("code", [0, 1, 2, 130, 143])
def test_run_status_from_exit_code(code: int) -> None:
    expected = {0: "FINISHED", 130: "KILLED", 143: "KILLED"}.get(code, "FAILED")
    assert train.status_for(code) == expected


@pytest.mark.parametrize(
    ("run_id", "name", "alias", "message"),
    [
        ("abc", "m", None, "is not an MLflow run id"),
        ("0" * 32, "bad name!", None, "invalid model name"),
        ("0" * 32, "m", "latest", "invalid alias"),
        ("0" * 32, "m", "v3", "invalid alias"),
        ("0" * 32, "m", "champion one", "invalid alias"),
    ],
)
def test_register_refuses_bad_names_before_mlflow(
    run_id: str, name: str, alias: str | None, message: str
) -> None:
    with pytest.raises(UserError, match=message):
        register.check_names(run_id, name, alias)
    register.check_names("0" * 32, "churn-model", "champion")


def test_register_picks_the_one_model_or_asks() -> None:
    one = register.RunModel("model", "models:/m-1", "m-1")
    two = register.RunModel("other", "runs:/r/other")
    assert register._pick([one], "r", None) == one
    assert register._pick([one, two], "r", "other") == two
    with pytest.raises(UserError, match="has 2 models: model, other"):
        register._pick([one, two], "r", None)
    with pytest.raises(UserError, match="has no model to register"):
        register._pick([], "r", None)
    with pytest.raises(UserError, match="has no model 'x'"):
        register._pick([one], "r", "x")


def test_k8s_options_without_k8s_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["online", "train", "p", "main", "--gpu_type", "t4", "--cpu", "2"])
    assert code == 2
    assert capsys.readouterr().err == "error: --cpu, --gpu_type only apply with --k8s\n"


def test_bad_param_exits_2_before_any_checkout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # No git (a process) and no MLflow: the grid is parsed first.
    code = main(["online", "train", "p", "main", "-C", str(tmp_path), "-P", "lr"])
    assert code == 2
    assert "--param 'lr' is not KEY=VALUE" in capsys.readouterr().err


def test_help_of_both_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["online", "train", "--help"]) == 0
    assert "Train PROJECT_NAME at PROJECT_REF" in capsys.readouterr().out
    assert main(["online", "register", "--help"]) == 0
    assert "model version: N" in capsys.readouterr().out
