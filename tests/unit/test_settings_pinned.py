"""The settings a pull request's run reads: pinned to its base's (never the PR's own edit of
``.somlier/platform.yaml``), and no value the platform file read from the environment in any
message."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import variables_load
from pipeline.config.pins import pinned
from pipeline.config.settings import PlatformSettings
from pipeline.config.settings_load import load_settings
from pipeline.errors import ConfigError
from pipeline.monorepo.detect import global_paths

TOKEN = "xoxb-CANARY-0123456789-pinned"


def platform(root: Path, text: str) -> Path:
    (root / ".somlier").mkdir(exist_ok=True)
    (root / ".somlier" / "platform.yaml").write_text(text)
    return root


def test_a_pinned_root_reads_the_pinned_settings_everywhere_and_only_inside_the_block(
    tmp_path: Path,
) -> None:
    root = platform(
        tmp_path,
        "interpolation: {allow: [DATABASE_URL]}\nmonorepo: {global_paths: ['libs/**']}\n"
        "slack: {channel: '#from-the-pr'}\n",
    )
    base = PlatformSettings()
    with pinned(root, base):
        assert load_settings(root, {}) is base
        assert "DATABASE_URL" not in variables_load.for_root(root, {}).allow
        assert global_paths(root, {}) == base.monorepo.global_paths
    after = load_settings(root, {})
    assert after.slack.channel == "#from-the-pr"
    assert "DATABASE_URL" in variables_load.for_root(root, {}).allow


def test_a_value_read_from_the_environment_never_shows_in_a_settings_error(
    tmp_path: Path,
) -> None:
    root = platform(tmp_path, "slack: {channel: 'leak ${SLACK_BOT_TOKEN}'}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(root, {"SLACK_BOT_TOKEN": TOKEN})
    text = caught.value.render()
    assert "slack.channel" in text and TOKEN not in text
