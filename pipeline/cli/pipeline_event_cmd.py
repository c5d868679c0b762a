"""``somlier pipeline event``: what a GitHub event asks for, as GitHub Actions runs it: the
image step for a pull request or a push to the default branch (:mod:`.pipeline_build_cmd`),
the comment commands for an ``issue_comment`` (:mod:`pipeline.chatops`, wired in
:mod:`pipeline.cli.wiring.comment_actions`). The environment is read here, once."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pipeline.cli.options import json_option, repo_option
from pipeline.errors import EXIT_OK, EXIT_STEP_FAILED, UserError

if TYPE_CHECKING:
    from pipeline.chatops.handle import Report


@click.command()
@click.option(
    "--name",
    envvar="GITHUB_EVENT_NAME",
    metavar="EVENT",
    help="The event name [default: $GITHUB_EVENT_NAME].",
)
@click.option(
    "--path",
    "event_path",
    envvar="GITHUB_EVENT_PATH",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The event payload [default: $GITHUB_EVENT_PATH].",
)
@click.option("--include-drafts", is_flag=True, help="Build draft pull requests too.")
@click.option("--dry-run", is_flag=True, help="Print the plan as JSON; build, push, post nothing.")
@json_option
@repo_option
def event(
    name: str | None,
    event_path: Path | None,
    include_drafts: bool,
    dry_run: bool,
    as_json: bool,
    repo: Path | None,
) -> int:
    """Run the image step a GitHub event asks for.

    pull_request (opened, synchronize, reopened, ready_for_review): build the changed projects
    with pr-N tags, set a commit status per project, update one PR comment, post to Slack.
    push to the default branch: build or retag with latest. issue_comment (created, on a PR):
    the comment commands /deploy, /build, /dag, /rollback, /help (docs/commands.md); exit 1
    when one is refused or fails. Anything else is ignored with a one-line reason (exit 0).
    """
    from pipeline.steps.event import Ignored, decide, load_payload
    from pipeline.steps.flow import context_for

    if not name or event_path is None:
        raise UserError(
            "no event: set GITHUB_EVENT_NAME and GITHUB_EVENT_PATH, or pass --name and --path"
        )
    if name == "issue_comment":
        from pipeline.cli.wiring.comment_actions import comment_root

        return _comment(
            name,
            load_payload(event_path),
            root=comment_root(repo),
            environ=os.environ,
            dry_run=dry_run,
            as_json=as_json,
        )
    decision = decide(name, load_payload(event_path), include_drafts=include_drafts)
    if isinstance(decision, Ignored):
        if as_json or dry_run:
            click.echo(json.dumps({"ignored": True, "reason": decision.reason}))
        else:
            click.echo(f"ignored: {decision.reason}")
        return EXIT_OK
    from pipeline.cli.pipeline_build_cmd import _root, _run

    context, base, head = context_for(decision)
    return _run(
        _root(repo),
        base=base,
        head=head,
        projects=(),
        trigger=context.trigger,
        pr=context.pr_number,
        dry_run=dry_run,
        as_json=as_json,
        repo=decision.repo,
        link=decision.html_url or None,
        environ=os.environ,
    )


def _comment(
    name: str,
    payload: dict[str, Any],
    *,
    root: Path | None,
    environ: Mapping[str, str],
    dry_run: bool,
    as_json: bool,
) -> int:
    """``somlier pipeline event`` for ``issue_comment``: exit 0 when every command ran (or the
    comment was ignored), 1 when one was refused, aborted or failed."""
    from pipeline.chatops.actions import for_github_actions
    from pipeline.cli.wiring.comment_actions import action_table, comment_handler
    from pipeline.config.settings_load import load_settings

    settings = load_settings(root, environ)
    actions = action_table(root, settings, environ)
    if environ.get("GITHUB_ACTIONS") == "true":
        actions = for_github_actions(actions)  # /build and /dag run no PR code there
    handler = comment_handler(
        root, settings, environ, log=lambda line: click.echo(line, err=True), actions=actions
    )
    report = handler(name, payload, dry_run=dry_run)
    _print(report, as_json=as_json or dry_run)
    return EXIT_OK if report.ok else EXIT_STEP_FAILED


def _print(report: Report, *, as_json: bool) -> None:
    data = report.to_json()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    if data["ignored"]:
        click.echo(f"ignored: {data['reason']}")
        return
    for item in data["commands"]:
        state = item.get("state") or item["decision"]
        why = item.get("reason") or item.get("message", "")
        click.echo(f"{item['text']}: {state}" + (f": {why.splitlines()[0]}" if why else ""))
