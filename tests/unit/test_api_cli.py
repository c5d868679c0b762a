"""``somlier api`` at the edge (nothing is served here) and the published OpenAPI spec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.cli.main import main
from pipeline.server.app import openapi_spec

DOCS = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
REGENERATE = "docs/openapi.json is stale: run `somlier api --openapi > docs/openapi.json`"


def test_the_published_spec_is_the_apps(capsys: pytest.CaptureFixture[str]) -> None:
    published = json.loads(DOCS.read_text(encoding="utf-8"))
    assert published == openapi_spec(), REGENERATE
    assert main(["api", "--openapi"]) == 0
    assert json.loads(capsys.readouterr().out) == published


def test_the_spec_documents_auth_and_every_answer() -> None:
    spec = openapi_spec()
    assert spec["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["HTTPBearer"]["description"],
    }
    deploy = spec["paths"]["/deploy"]["post"]
    status = spec["paths"]["/deployments/{deployment_id}"]["get"]
    health = spec["paths"]["/healthz"]["get"]
    assert set(deploy["responses"]) == {"202", "401", "403", "413", "422", "503"}
    assert set(status["responses"]) == {"200", "401", "404", "422"}
    assert set(health["responses"]) == {"200", "503"}
    for operation in (deploy, status):
        assert operation["responses"]["422"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Problem"
        }
        assert operation["security"] == [{"HTTPBearer": []}]
    assert "security" not in health
    payload = spec["components"]["schemas"]["DeployPayload"]
    assert payload["required"] == ["model_name", "model_version"]
    assert payload["additionalProperties"] is False
    assert {"project_name", "is_k8s", "istio_enabled", "use_gpu"} <= set(payload["properties"])
    assert all(p.get("description") for p in payload["properties"].values())


def test_no_token_refuses_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SOMLIER_API_TOKEN", raising=False)
    assert main(["api", "-C", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "error: no API token: set SOMLIER_API_TOKEN "
        "(clients send it as 'Authorization: Bearer TOKEN')",
        "hint: or pass --no-auth to run without authentication, on loopback only",
    ]
    assert not (tmp_path / ".somlier").exists()


def test_the_token_variable_comes_from_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".somlier").mkdir()
    (tmp_path / ".somlier" / "platform.yaml").write_text("api: {token_env: OUR_API_TOKEN}\n")
    monkeypatch.setenv("SOMLIER_API_TOKEN", "x" * 32)  # not the one the settings name
    assert main(["api", "-C", str(tmp_path)]) == 2
    assert "error: no API token: set OUR_API_TOKEN" in capsys.readouterr().err


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "example.org"])
def test_no_auth_is_for_loopback_only(
    tmp_path: Path, host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["api", "-C", str(tmp_path), "--no-auth", "--host", host]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"error: --no-auth serves without authentication, so only on loopback, not on {host}"
    )


def test_an_unusable_database_is_a_user_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token = "t" * 32
    monkeypatch.setenv("SOMLIER_API_TOKEN", token)
    db = tmp_path / "notes.txt"
    db.write_text("plain text, not SQLite\n" * 100)
    assert main(["api", "-C", str(tmp_path), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert f"error: {db} is not a usable somlier API database" in err
    assert token not in err


def test_a_bad_port_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["api", "--port", "70000"]) == 2
    assert "70000 is not in the range 0<=x<=65535" in capsys.readouterr().err


def test_without_the_api_extra_it_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name, *a)
    )
    assert main(["api", "--openapi"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: this command needs the Python package 'uvicorn', which is not installed",
        "hint: pip install 'somlier[api]'",
    ]
