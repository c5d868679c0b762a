"""An OCI distribution (Docker Registry HTTP API v2) client: does a tag exist, what is its
digest, and retagging registry-side (the manifest is copied; no layer is pulled or pushed).

Credentials come from a :class:`~pipeline.secret.Secret` (a token variable) or the
docker config (``auths`` and credential helpers); they are never printed or put in errors.
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import proc
from pipeline.errors import StepFailed

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
_TIMEOUT = 30
_ATTEMPTS = 4  # per request, on 429, 5xx and dropped connections
_FIRST_WAIT = 0.5  # seconds; doubling after each further failure


class RegistryError(StepFailed):
    """The registry answered with an error, or could not be reached."""


class _Transient(Exception):
    """A 429, a 5xx or a connection failure: worth another try."""


@dataclass(frozen=True)
class Manifest:
    body: bytes
    media_type: str
    digest: str


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password='***')"


def docker_config_credentials(
    host: str, config_dir: Path, run: Callable[..., Any] = proc.run
) -> Credentials | None:
    """Credentials for ``host`` from ``config.json``: a credential helper, or a stored auth."""
    try:
        config = json.loads((config_dir / "config.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    helper = config.get("credHelpers", {}).get(host) or config.get("credsStore")
    if helper:
        result = run(f"docker-credential-{helper}", "get", stdin=host, check=False)
        if result.returncode == 0:
            data = json.loads(result.stdout)
            return Credentials(data.get("Username", ""), data.get("Secret", ""))
    for key in (host, f"https://{host}", f"http://{host}"):
        entry = config.get("auths", {}).get(key)
        if entry and entry.get("auth"):
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            return Credentials(user, password)
    return None


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.partition(" ")
    return scheme.lower(), dict(re.findall(r'(\w+)="([^"]*)"', rest))


class Registry:
    """One registry host. ``insecure`` speaks plain HTTP (a local test registry)."""

    def __init__(
        self, host: str, *, insecure: bool = False, credentials: Credentials | None = None
    ) -> None:
        self.host = host
        self.base = f"{'http' if insecure else 'https'}://{host}"
        self._credentials = credentials
        self._tokens: dict[str, str] = {}  # scope -> bearer token
        self._basic = False  # the registry asked for basic auth
        self.calls = 0

    def _authorization(self, scope: str) -> dict[str, str]:
        token = self._tokens.get(scope)
        if token:
            return {"Authorization": f"Bearer {token}"}
        if self._credentials is not None and self._basic:
            raw = f"{self._credentials.username}:{self._credentials.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        return {}

    def _login(self, header: str, scope: str) -> None:
        scheme, params = _challenge(header)
        if scheme == "basic":
            if self._credentials is None:
                raise RegistryError(
                    f"registry {self.host} needs credentials",
                    hint="docker login, or set the registry token variable",
                )
            self._basic = True
            return
        query = {"service": params.get("service", ""), "scope": params.get("scope", scope)}
        realm = params.get("realm", "")
        if not realm.startswith(("https://", "http://")):
            raise RegistryError(f"registry {self.host}: unusable auth realm {realm[:80]!r}")
        url = realm + "?" + urllib.parse.urlencode(query)
        request = urllib.request.Request(url)  # noqa: S310 (http(s) only, checked above)
        if self._credentials is not None:
            raw = f"{self._credentials.username}:{self._credentials.password}".encode()
            request.add_header("Authorization", "Basic " + base64.b64encode(raw).decode())
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT) as answer:  # noqa: S310
                data = json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            raise RegistryError(
                f"registry {self.host}: login refused ({exc.code})",
                hint="check the registry credentials",
            ) from None
        self._tokens[scope] = data.get("token") or data.get("access_token", "")

    def _send(
        self,
        method: str,
        path: str,
        scope: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request, retried with backoff on 429, 5xx and dropped connections: up to 4
        attempts, waiting 0.5, 1 and 2 s (exponential, at most 8 s) between them."""
        try:
            return self._send_once(method, path, scope, headers=headers, body=body)
        except _Transient:
            time.sleep(_FIRST_WAIT)
        # tenacity imported only once a request failed: with tornado installed (the dev extras
        # bring it) its import alone takes ~30 ms, on every run.
        from tenacity import (
            Retrying,
            retry_if_exception_type,
            stop_after_attempt,
            wait_exponential,
        )

        retrying = Retrying(
            retry=retry_if_exception_type(_Transient),
            stop=stop_after_attempt(_ATTEMPTS - 1),
            wait=wait_exponential(multiplier=2 * _FIRST_WAIT, max=8),
            reraise=True,
        )
        answer: tuple[int, dict[str, str], bytes] = retrying(
            self._send_once, method, path, scope, headers=headers, body=body
        )
        return answer

    def _send_once(
        self,
        method: str,
        path: str,
        scope: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        for _ in range(2):  # once more after a login
            url = self.base + path  # http(s), built by __init__
            request = urllib.request.Request(url, data=body, method=method)  # noqa: S310
            for key, value in {**(headers or {}), **self._authorization(scope)}.items():
                request.add_header(key, value)
            self.calls += 1
            try:
                with urllib.request.urlopen(request, timeout=_TIMEOUT) as answer:  # noqa: S310
                    return answer.status, dict(answer.headers), answer.read()
            except urllib.error.HTTPError as exc:
                if exc.code == 401 and exc.headers.get("WWW-Authenticate"):
                    self._login(exc.headers["WWW-Authenticate"], scope)
                    continue
                if exc.code == 429 or exc.code >= 500:
                    raise _Transient(f"{exc.code}") from None
                return exc.code, dict(exc.headers), exc.read()
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                reason = getattr(exc, "reason", exc)
                raise _Transient(str(reason)) from None
        raise RegistryError(f"registry {self.host}: access denied", hint="check the credentials")

    def _call(
        self, method: str, path: str, scope: str, **kwargs: Any
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            return self._send(method, path, scope, **kwargs)
        except _Transient as exc:
            raise RegistryError(
                f"registry {self.host} unreachable or failing: {exc}",
                hint="is it running? is registry.url right?",
            ) from None

    def manifest(self, repository: str, reference: str) -> Manifest | None:
        """The manifest of ``repository:reference``, or None when the tag does not exist."""
        scope = f"repository:{repository}:pull"
        status, headers, body = self._call(
            "GET",
            f"/v2/{repository}/manifests/{reference}",
            scope,
            headers={"Accept": MANIFEST_TYPES},
        )
        if status == 404:
            return None
        if status != 200:
            raise RegistryError(
                f"registry {self.host}: GET manifest {repository}:{reference} answered {status}"
            )
        lower = {k.lower(): v for k, v in headers.items()}
        media_type = lower.get("content-type", "").split(";")[0]
        digest = lower.get("docker-content-digest", "")
        return Manifest(body, media_type, digest)

    def digest(self, repository: str, tag: str) -> str | None:
        found = self.manifest(repository, tag)
        return None if found is None else found.digest

    def retag(self, repository: str, manifest: Manifest, tags: tuple[str, ...]) -> None:
        """Point every tag of ``tags`` at ``manifest`` (same bytes, same digest)."""
        scope = f"repository:{repository}:pull,push"
        for tag in tags:
            status, _, body = self._call(
                "PUT",
                f"/v2/{repository}/manifests/{tag}",
                scope,
                headers={"Content-Type": manifest.media_type},
                body=manifest.body,
            )
            if status not in (200, 201):
                detail = body[:200].decode("utf-8", "replace")
                raise RegistryError(
                    f"registry {self.host}: tagging {repository}:{tag} answered {status}: {detail}"
                )
