"""Run a Kubernetes pod spec's container on the test Docker engine, the way a kubelet would start
it: the image, ``command`` as the entrypoint, ``args``, the environment and the working folder,
all taken from the spec: ``Container.of(task["pod"])`` for a task of ``somlier dags check
--json`` (which reports the names of the variables only: their values come from the caller's
``env=``), ``Container.of_manifest(c)`` for a container of a Job or Deployment manifest.

    done = run_container(Container.of(pod), docker_host=docker_host)
    assert done.returncode == 0, done.stderr

What a kubelet does and this does too:

- ``command`` replaces the image's ENTRYPOINT *and* CMD (``--entrypoint`` resets CMD);
- ``args`` alone replace CMD and keep the ENTRYPOINT; neither keeps both;
- ``workingDir`` replaces WORKDIR; the image's USER stays (no securityContext here).

Not emulated (check them in the spec instead): resources (no GPU on the engine: a GPU pod runs
on the CPU, its ``nvidia.com/gpu`` limit and node selector are asserted by the caller), node
selectors and tolerations, Secrets (``env_from_secrets`` must be empty unless ``secrets`` gives
their keys), probes. The network is the host's (no bridge on the test engine).

Test modules import it: PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.integration.services import docker_cli


class PodRunError(AssertionError):
    """The spec cannot be run as given (an env value or a Secret is missing)."""


@dataclass(frozen=True)
class Container:
    """The container of a pod spec, as ``dags check --json`` reports it."""

    image: str
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    working_dir: str | None = None
    env: tuple[str, ...] = ()  # the names of the variables the spec sets
    env_values: tuple[tuple[str, str], ...] = ()  # the values the spec gives (dags check: none)
    env_from_secrets: tuple[str, ...] = ()

    @classmethod
    def of(cls, pod: Mapping[str, Any]) -> Container:
        """From a task's ``pod`` object of ``somlier dags check --json``."""
        return cls(
            image=pod["image"],
            command=tuple(pod.get("command") or ()),
            args=tuple(pod.get("args") or ()),
            working_dir=pod.get("working_dir") or None,
            env=tuple(pod.get("env") or ()),
            env_from_secrets=tuple(pod.get("env_from_secrets") or ()),
        )

    @classmethod
    def of_manifest(cls, container: Mapping[str, Any]) -> Container:
        """From a container of a Kubernetes manifest (a Job's or a Deployment's
        ``spec.template.spec.containers[i]``): camelCase keys, values in ``env``."""
        env = list(container.get("env") or ())
        if any("value" not in e for e in env):
            raise PodRunError("env with valueFrom: pass the value as env= instead")
        return cls(
            image=container["image"],
            command=tuple(container.get("command") or ()),
            args=tuple(container.get("args") or ()),
            working_dir=container.get("workingDir") or None,
            env=tuple(e["name"] for e in env),
            env_values=tuple((e["name"], str(e["value"])) for e in env),
            env_from_secrets=tuple(
                e["secretRef"]["name"] for e in container.get("envFrom") or () if "secretRef" in e
            ),
        )


def docker_run_argv(
    container: Container,
    *,
    env: Mapping[str, str] | None = None,
    secrets: Mapping[str, Mapping[str, str]] | None = None,
    network: str = "host",
    name: str | None = None,
) -> list[str]:
    """The ``docker run`` arguments (after ``docker``) that start ``container`` as a kubelet
    would. ``env`` gives the value of each variable the spec names without one (together with
    the spec's values: exactly its names); ``secrets`` the keys of each Secret of
    ``env_from_secrets``."""
    env = {**dict(container.env_values), **(env or {})}
    secrets = dict(secrets or {})
    if set(env) != set(container.env):
        raise PodRunError(
            f"the pod sets {sorted(container.env)}; values were given for {sorted(env)}"
        )
    missing = [s for s in container.env_from_secrets if s not in secrets]
    if missing:
        raise PodRunError(f"the pod reads the Secrets {missing}: pass their keys as secrets=")
    argv = ["run", "--rm", "--network", network]
    if name is not None:
        argv += ["--name", name]
    if container.command:
        argv += ["--entrypoint", container.command[0]]
    if container.working_dir:
        argv += ["--workdir", container.working_dir]
    # Kubernetes: envFrom first, then env (env wins on a clash), as docker applies them in order.
    for secret in container.env_from_secrets:
        for key, value in secrets[secret].items():
            argv += ["--env", f"{key}={value}"]
    for variable in container.env:
        argv += ["--env", f"{variable}={env[variable]}"]
    argv.append(container.image)
    argv += [*container.command[1:], *container.args]
    return argv


def run_container(
    container: Container,
    *,
    docker_host: str,
    env: Mapping[str, str] | None = None,
    secrets: Mapping[str, Mapping[str, str]] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run ``container`` to its end on the engine at ``docker_host``; the completed process
    (its exit code is the container's)."""
    argv: Sequence[str] = docker_run_argv(container, env=env, secrets=secrets)
    return subprocess.run(
        [docker_cli(), "-H", docker_host, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
