"""A batch of projects builds with bounded parallelism (``pipeline build --jobs N``): N builds
at once, never more, and the outcomes in the order the projects were given, whatever order the
builds finish in."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import pytest

from pipeline.config.project import load_project
from pipeline.config.settings import PlatformSettings
from pipeline.images.engine import Built
from pipeline.images.job import BuildJob
from pipeline.images.refs import BuildContext, ImageName
from pipeline.steps import images

JOBS = 3
PROJECTS = 7


class GatedBuilder:
    """Each build waits until JOBS builds run at once (a barrier: with fewer workers it would
    never open), and the builds finish in the reverse order of their start."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.barrier = threading.Barrier(JOBS, timeout=60)
        self.finished: list[str] = []

    def has(self, ref: str) -> bool:
        return False

    def tag_local(self, source: str, image: ImageName, tags: tuple[str, ...]) -> None:
        pass

    def build(self, job: BuildJob, log: Any) -> Built:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            if int(job.project[1:]) < JOBS:  # the first JOBS builds meet, then finish last first
                index = self.barrier.wait()
                turn = threading.Event()
                turn.wait(0.01 * index)
        finally:
            with self.lock:
                self.running -= 1
                self.finished.append(job.project)
        return Built(None, None, ())


def test_jobs_builds_run_at_once_and_outcomes_keep_the_given_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(images.sources, "tarball", lambda root, rev, files: b"")
    monkeypatch.setattr(images, "with_files", lambda context, files: context)
    planned = []
    for i in range(PROJECTS):
        name = f"p{i}"
        folder = tmp_path / "projects" / name
        folder.mkdir(parents=True)
        (folder / "Dockerfile").write_text("FROM x\n")
        (folder / "requirements.txt").write_text("")
        (folder / "somlier.yaml").write_text(
            f"project: {{name: {name}}}\nmodel: {{name: {name}, version: v1.0.0}}\n"
            "entrypoints: {main: {command: python}}\n"
        )
        config = load_project(folder / "somlier.yaml", {})
        planned.append(
            images.Planned(config, f"projects/{name}", ImageName("", name), ("src-1",), (), "h")
        )
    settings = PlatformSettings()
    settings = dataclasses.replace(
        settings, builder=dataclasses.replace(settings.builder, parallelism=JOBS)
    )
    builder = GatedBuilder()
    step = images.ImageStep(
        tmp_path,
        "HEAD",
        settings,
        BuildContext("manual", "abcdef0"),
        lambda: builder,
        None,
        lambda project, line: None,
    )
    outcomes = step.run(planned)
    assert builder.most == JOBS
    assert [o.project for o in outcomes] == [f"p{i}" for i in range(PROJECTS)]
    assert all(o.ok for o in outcomes)
