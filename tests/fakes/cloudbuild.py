"""A fake of Google Cloud Build (REST v1) and of the GCS JSON API, one loopback server.

google-cloud-build talks to it through ``CloudBuildClient(transport="rest",
client_options={"api_endpoint": fake.url})`` and google-cloud-storage through
``storage.Client(client_options={"api_endpoint": fake.url})``; both with
``AnonymousCredentials()``, or with Application Default Credentials of the ``external_account``
kind that GitHub's workload identity federation writes, exchanged at this fake's STS
(:attr:`FakeCloudBuild.token_url`, see :meth:`adc_file`).

Cloud Build routes (global and regional, as the client's REST transport sends them):
``POST /v1/projects/P/builds`` · ``POST /v1/projects/P/locations/L/builds`` (an Operation whose
metadata holds the build) · ``GET …/builds/ID`` · ``GET …/builds?filter=tags="T"`` ·
``POST …/builds/ID:cancel`` · ``GET /v1/operations/build/P/OP`` · ``GET
/v1/projects/P/locations/L/operations/OP``. GCS: ``POST /upload/storage/v1/b/B/o`` with
``uploadType=multipart`` (what the client sends up to 8 MiB) or ``resumable`` (then ``PUT`` the
session), ``GET /download/storage/v1/b/B/o/NAME?alt=media``, ``GET /storage/v1/b/B`` (the client
reads it in the background). Plus ``POST /v1/token``, Google's STS token exchange.

A build does not build anything. Each poll (``GET`` of the build or its operation) moves it on:
QUEUED, then WORKING for ``working_polls`` polls, then its planned end (:meth:`plan_next`). A
successful build "pushes" every image listed under ``images`` (each must be a ``-t`` of a
``docker build`` step, or the push fails as it would) with one digest, and writes its log to the
logs bucket. A build whose source object is missing fails. Step arguments that use an unknown
``$NAME`` substitution are refused with 400, as Cloud Build does (``$$`` is a literal ``$``).

Every Build and Operation answer is checked against the client's own protobuf types (unknown
fields fail the request with 500 and land in :attr:`FakeServer.errors`).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import google_crc32c
from google.cloud.devtools import cloudbuild_v1
from google.longrunning import operations_pb2
from google.protobuf import json_format

from tests.fakes.faults import Fault
from tests.fakes.server import FakeServer, Request, Response

TERMINAL = frozenset({"SUCCESS", "FAILURE", "INTERNAL_ERROR", "TIMEOUT", "CANCELLED", "EXPIRED"})
BUILTIN_SUBSTITUTIONS = frozenset(
    {
        "PROJECT_ID",
        "PROJECT_NUMBER",
        "LOCATION",
        "BUILD_ID",
        "REPO_NAME",
        "REPO_FULL_NAME",
        "BRANCH_NAME",
        "TAG_NAME",
        "REVISION_ID",
        "COMMIT_SHA",
        "SHORT_SHA",
        "SERVICE_ACCOUNT",
        "SERVICE_ACCOUNT_EMAIL",
        "TRIGGER_NAME",
        "TRIGGER_BUILD_CONFIG_PATH",
    }
)
_SUBSTITUTION = re.compile(r"\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DURATION = re.compile(r"^\d+(\.\d+)?s$")
_METADATA_TYPE = "type.googleapis.com/google.devtools.cloudbuild.v1.BuildOperationMetadata"
_BUILD_TYPE = "type.googleapis.com/google.devtools.cloudbuild.v1.Build"
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


@dataclass(frozen=True)
class Plan:
    """How a build ends: ``status`` after ``working_polls`` polls that answer WORKING."""

    status: str = "SUCCESS"
    working_polls: int = 0
    status_detail: str = ""
    log_lines: tuple[str, ...] = ()


@dataclass
class FakeBuild:
    id: str
    project: str
    location: str
    spec: dict[str, Any]  # the Build as the client sent it (JSON)
    plan: Plan
    operation: str
    status: str = "QUEUED"
    polls: int = 0
    status_detail: str = ""
    images: list[dict[str, Any]] = field(default_factory=list)
    create_time: str = ""
    finish_time: str = ""


@dataclass
class StoredObject:
    bucket: str
    name: str
    data: bytes
    content_type: str
    generation: int
    metadata: dict[str, Any]  # the object resource the client sent


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def _error(status: int, message: str) -> Response:
    return Response.json(
        status,
        {"error": {"code": status, "message": message, "status": _STATUS_NAMES.get(status, "")}},
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def crc32c_of(data: bytes) -> str:
    return _b64(google_crc32c.value(data).to_bytes(4, "big"))


class FakeCloudBuild(FakeServer):
    """``buckets``: the GCS buckets that exist (the logs bucket always does).
    ``access_token``: when given, every request must carry it as a Bearer token (the
    :meth:`adc_file` credentials obtain it from the STS); when ``None``, anonymous requests are
    accepted."""

    def __init__(
        self,
        *,
        buckets: tuple[str, ...] = ("somlier-builds",),
        access_token: str | None = None,
        project_number: str = "123456789012",
    ) -> None:
        super().__init__()
        self.access_token = access_token
        self.project_number = project_number
        self.buckets = {*buckets, self.logs_bucket()}
        self.builds: dict[str, FakeBuild] = {}
        self.objects: dict[tuple[str, str], StoredObject] = {}
        self.bearer_tokens: set[str] = set()  # what clients sent, for "auth works" checks
        self.subject_tokens: list[str] = []  # OIDC tokens exchanged at the STS
        self._plans: deque[Plan] = deque()
        self._sessions: dict[str, dict[str, Any]] = {}
        self._generations = itertools.count(1_700_000_000_000_001)

    @property
    def token_url(self) -> str:
        return f"{self.url}/v1/token"

    def logs_bucket(self) -> str:
        return f"{self.project_number}.cloudbuild-logs.googleusercontent.com"

    def adc_file(self, folder: Path, subject_token: str = "fake-github-oidc-token") -> Path:
        """Application Default Credentials as GitHub's workload identity federation writes
        them (``external_account``, a file-sourced OIDC token), exchanged at this fake's STS.

        The audience names no ``projects/NUMBER``: with one, ``google.auth.default()`` would ask
        Cloud Resource Manager (on the internet) for the project id.
        """
        token = folder / "oidc-token"
        token.write_text(subject_token)
        path = folder / "application_default_credentials.json"
        path.write_text(
            json.dumps(
                {
                    "type": "external_account",
                    "audience": "//iam.googleapis.com/locations/global/workloadIdentityPools/"
                    "github/providers/github",
                    "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
                    "token_url": self.token_url,
                    "credential_source": {"file": str(token)},
                }
            )
        )
        return path

    # seeding and reading -----------------------------------------------------------------------

    def plan_next(
        self,
        status: str = "SUCCESS",
        *,
        working_polls: int = 0,
        status_detail: str = "",
        log_lines: tuple[str, ...] = (),
    ) -> Plan:
        """How the next created build ends (unplanned builds succeed at the first poll)."""
        plan = Plan(status, working_polls, status_detail, log_lines)
        with self.lock:
            self._plans.append(plan)
        return plan

    def build_requests(self) -> list[dict[str, Any]]:
        """The Build body of every create request that reached the handler."""
        return [r.json for r in self.requests if r.route == "builds.create"]

    def polls(self) -> int:
        return sum(1 for r in self.requests if r.route in ("builds.get", "operations.get"))

    def fault_body(self, request: Request, fault: Fault) -> Any:
        status = fault.status or 500
        return {
            "error": {
                "code": status,
                "message": f"injected {status}",
                "status": _STATUS_NAMES.get(status, "UNKNOWN"),
            }
        }

    # serving -----------------------------------------------------------------------------------

    def handle(self, request: Request) -> tuple[str | None, Response]:
        path, method = request.path, request.method
        if path == "/v1/token" and method == "POST":
            return "sts.token", self._token(request)
        header = request.header("authorization") or ""
        if header.startswith("Bearer "):
            self.bearer_tokens.add(header.removeprefix("Bearer "))
        if self.access_token is not None and header != f"Bearer {self.access_token}":
            return None, _error(401, "Request had invalid authentication credentials.")
        if path.startswith(("/upload/storage/v1/", "/download/storage/v1/", "/storage/v1/")):
            return self._storage(request)
        if request.bad_json:
            return None, _error(400, "Invalid JSON payload received.")
        where = r"/v1/projects/(?P<p>[^/]+)(?:/locations/(?P<l>[^/]+))?"
        routes: list[tuple[str, str, str, Any]] = [
            ("POST", where + r"/builds", "builds.create", self._create),
            ("GET", where + r"/builds", "builds.list", self._list),
            ("GET", where + r"/builds/(?P<id>[^/:]+)", "builds.get", self._get),
            ("POST", where + r"/builds/(?P<id>[^/:]+):cancel", "builds.cancel", self._cancel),
            (
                "GET",
                r"/v1/operations/build/(?P<p>[^/]+)/(?P<op>[^/]+)",
                "operations.get",
                self._operation,
            ),
            ("GET", where + r"/operations/(?P<op>[^/]+)", "operations.get", self._operation),
        ]
        for verb, pattern, route, handler in routes:
            match = re.fullmatch(pattern, path)
            if match and method == verb:
                return route, handler(request, match.groupdict())
        return None, _error(404, f"no route {method} {path}")

    def _token(self, request: Request) -> Response:
        """Google's Security Token Service: an OIDC token in, an access token out."""
        form = request.form
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange":
            return Response.json(400, {"error": "unsupported_grant_type"})
        if not form.get("subject_token") or not form.get("audience"):
            return Response.json(400, {"error": "invalid_request"})
        self.subject_tokens.append(form["subject_token"])
        return Response.json(
            200,
            {
                "access_token": self.access_token or "fake-access-token",
                "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "token_type": "Bearer",
                "expires_in": 3600,
            },
        )

    # Cloud Build -------------------------------------------------------------------------------

    def _create(self, request: Request, where: dict[str, Any]) -> Response:
        spec = request.json if isinstance(request.json, dict) else {}
        problem = _check_spec(spec)
        if problem:
            return _error(400, problem)
        project, location = where["p"], where["l"] or "global"
        build_id = str(uuid.uuid4())
        operation = (
            f"projects/{self.project_number}/locations/{location}/operations/{uuid.uuid4()}"
            if where["l"]
            else f"operations/build/{project}/{_b64(build_id.encode()).rstrip('=')}"
        )
        build = FakeBuild(
            id=build_id,
            project=project,
            location=location,
            spec=spec,
            plan=self._plans.popleft() if self._plans else Plan(),
            operation=operation,
            create_time=_now(),
        )
        self.builds[build_id] = build
        return self._checked(request, self._operation_shape(build), operations_pb2.Operation())

    def _list(self, request: Request, where: dict[str, Any]) -> Response:
        wanted = request.query.get("filter", "")
        match = re.fullmatch(r'tags="([^"]+)"', wanted.strip()) if wanted else None
        if wanted and match is None:
            return _error(400, f'unsupported filter {wanted!r} (the fake knows tags="…")')
        found = [
            self._build_shape(b)
            for b in reversed(self.builds.values())
            if b.project == where["p"]
            and b.location == (where["l"] or "global")
            and (match is None or match.group(1) in b.spec.get("tags", []))
        ]
        return self._checked(request, {"builds": found}, cloudbuild_v1.ListBuildsResponse.pb()())

    def _find(self, where: dict[str, Any]) -> FakeBuild | None:
        build = self.builds.get(where["id"])
        if build is None or build.location != (where["l"] or "global"):
            return None
        return build if build.project in (where["p"], self.project_number) else None

    def _get(self, request: Request, where: dict[str, Any]) -> Response:
        build = self._find(where)
        if build is None:
            return _error(404, f"Build {where['id']} not found")
        self._advance(build)
        return self._checked(request, self._build_shape(build), cloudbuild_v1.Build.pb()())

    def _cancel(self, request: Request, where: dict[str, Any]) -> Response:
        build = self._find(where)
        if build is None:
            return _error(404, f"Build {where['id']} not found")
        if build.status not in TERMINAL:
            build.status, build.finish_time = "CANCELLED", _now()
        return self._checked(request, self._build_shape(build), cloudbuild_v1.Build.pb()())

    def _operation(self, request: Request, where: dict[str, Any]) -> Response:
        for build in self.builds.values():
            if build.operation.endswith(f"/{where['op']}"):
                self._advance(build)
                return self._checked(
                    request, self._operation_shape(build), operations_pb2.Operation()
                )
        return _error(404, "Operation not found")

    def _advance(self, build: FakeBuild) -> None:
        """One poll's worth of progress."""
        if build.status in TERMINAL:
            return
        if build.polls < build.plan.working_polls:
            build.polls += 1
            build.status = "WORKING"
            return
        build.finish_time = _now()
        storage = build.spec.get("source", {}).get("storageSource", {})
        source = self.objects.get((storage.get("bucket", ""), storage.get("object", "")))
        if source is None:
            build.status = "FAILURE"
            build.status_detail = "failed to fetch the source: storage object not found"
            return
        produced = {
            args[i + 1]
            for step in build.spec.get("steps", [])
            for args in [step.get("args", [])]
            for i, arg in enumerate(args[:-1])
            if "build" in args and arg in ("-t", "--tag")
        }
        missing = [i for i in build.spec.get("images", []) if i not in produced]
        if build.plan.status == "SUCCESS" and missing:
            build.status = "FAILURE"
            build.status_detail = f"failed to push: {missing[0]} was not built"
            return
        build.status, build.status_detail = build.plan.status, build.plan.status_detail
        lines = [f'starting build "{build.id}"', "FETCHSOURCE", *build.plan.log_lines]
        if build.status == "SUCCESS":
            digest = "sha256:" + hashlib.sha256(build.id.encode() + source.data).hexdigest()
            build.images = [
                {"name": name, "digest": digest, "pushTiming": {}}
                for name in build.spec.get("images", [])
            ]
            lines += [f"{name}: digest: {digest}" for name in build.spec.get("images", [])]
            lines.append("DONE")
        else:
            lines.append(f"ERROR: build step 1 failed: {build.status_detail or build.status}")
        self._store(self.logs_bucket(), f"log-{build.id}.txt", "\n".join(lines).encode(), {})

    def _log_url(self, build: FakeBuild) -> str:
        return (
            f"https://console.cloud.google.com/cloud-build/builds;region={build.location}/"
            f"{build.id}?project={self.project_number}"
        )

    def _build_shape(self, build: FakeBuild) -> dict[str, Any]:
        shape = {
            **build.spec,
            "name": f"projects/{self.project_number}/locations/{build.location}/builds/{build.id}",
            "id": build.id,
            "projectId": build.project,
            "status": build.status,
            "createTime": build.create_time,
            "logsBucket": f"gs://{self.logs_bucket()}",
            "logUrl": self._log_url(build),
            "options": {"logging": "LEGACY"},
            "queueTtl": "3600s",
        }
        shape.setdefault("timeout", "600s")
        if build.status_detail:
            shape["statusDetail"] = build.status_detail
        if build.status != "QUEUED":
            shape["startTime"] = build.create_time
        if build.finish_time:
            shape["finishTime"] = build.finish_time
        if build.images:
            shape["results"] = {
                "images": build.images,
                "buildStepImages": [build.images[0]["digest"]],
            }
        return shape

    def _operation_shape(self, build: FakeBuild) -> dict[str, Any]:
        shape: dict[str, Any] = {
            "name": build.operation,
            "metadata": {"@type": _METADATA_TYPE, "build": self._build_shape(build)},
        }
        if build.status in TERMINAL:
            shape["done"] = True
            if build.status == "SUCCESS":
                shape["response"] = {"@type": _BUILD_TYPE, **self._build_shape(build)}
            else:
                shape["error"] = {
                    "code": 2,
                    "message": f"Build failed; check build logs for details ({build.status})",
                }
        return shape

    @staticmethod
    def _checked(request: Request, payload: dict[str, Any], message: Any) -> Response:
        """``payload`` checked against the protobuf type the client parses it into, with enums
        as numbers when the client asks so (``$alt=json;enum-encoding=int``), as Google does."""
        json_format.ParseDict(payload, message, ignore_unknown_fields=False)
        if "enum-encoding=int" in request.query.get("$alt", ""):
            payload = json_format.MessageToDict(message, use_integers_for_enums=True)
        return Response.json(200, payload)

    # GCS ---------------------------------------------------------------------------------------

    def _store(self, bucket: str, name: str, data: bytes, metadata: dict[str, Any]) -> StoredObject:
        stored = StoredObject(
            bucket,
            name,
            data,
            str(metadata.get("contentType") or "application/octet-stream"),
            next(self._generations),
            metadata,
        )
        self.objects[(bucket, name)] = stored
        return stored

    def _storage(self, request: Request) -> tuple[str | None, Response]:
        bucket = re.match(r"/(?:upload/|download/)?storage/v1/b/([^/]+)", request.path)
        if bucket is None or bucket.group(1) not in self.buckets:
            return None, _error(404, "The specified bucket does not exist.")
        if re.fullmatch(r"/storage/v1/b/[^/]+", request.path) and request.method == "GET":
            # google-cloud-storage reads a bucket's metadata in the background, for tracing.
            return "gcs.bucket", Response.json(200, self._bucket_shape(bucket.group(1)))
        upload = re.fullmatch(r"/upload/storage/v1/b/([^/]+)/o", request.path)
        kind = request.query.get("uploadType")
        if upload and request.method == "POST" and kind == "multipart":
            return "gcs.upload.multipart", self._multipart(request, upload.group(1))
        if upload and request.method == "POST" and kind == "resumable":
            return "gcs.upload.resumable", self._resumable_start(request, upload.group(1))
        if upload and request.method == "PUT" and "upload_id" in request.query:
            return "gcs.upload.resumable", self._resumable_put(request)
        download = re.fullmatch(r"/download/storage/v1/b/([^/]+)/o/(.+)", request.path)
        if download and request.method == "GET" and request.query.get("alt") == "media":
            found = self.objects.get((download.group(1), download.group(2)))
            if found is None:
                return "gcs.download", _error(404, "No such object")
            return "gcs.download", Response(
                200,
                found.data,
                {
                    "Content-Type": found.content_type,
                    "x-goog-generation": str(found.generation),
                    "x-goog-hash": f"crc32c={crc32c_of(found.data)},"
                    f"md5={_b64(hashlib.md5(found.data).digest())}",
                },
            )
        return None, _error(404, f"no route {request.method} {request.path}")

    def _multipart(self, request: Request, bucket: str) -> Response:
        content_type = request.header("content-type") or ""
        match = re.search(r'boundary="?([^";]+)"?', content_type)
        if not content_type.startswith("multipart/related") or match is None:
            return _error(400, "a multipart upload needs multipart/related with a boundary")
        boundary = b"--" + match.group(1).encode()
        body = request.body
        if not body.startswith(boundary + b"\r\n") or not body.endswith(boundary + b"--"):
            return _error(400, "malformed multipart body")
        parts = body[len(boundary) + 2 : -len(boundary) - 2].split(b"\r\n" + boundary + b"\r\n")
        if len(parts) != 2:
            return _error(400, "a multipart upload has exactly two parts")
        meta_part, media_part = (p.removesuffix(b"\r\n") for p in parts)
        metadata = json.loads(meta_part.split(b"\r\n\r\n", 1)[1])
        media_headers, data = media_part.split(b"\r\n\r\n", 1)
        media_type = media_headers.decode().partition(":")[2].strip()
        return self._finish_upload(bucket, metadata, data, media_type)

    def _finish_upload(
        self, bucket: str, metadata: dict[str, Any], data: bytes, media_type: str
    ) -> Response:
        name = metadata.get("name") or ""
        if not name:
            return _error(400, "Required: object name")
        if "crc32c" in metadata and metadata["crc32c"] != crc32c_of(data):
            return _error(400, "Provided CRC32C does not match the uploaded data")
        md5 = _b64(hashlib.md5(data).digest())
        if "md5Hash" in metadata and metadata["md5Hash"] != md5:
            return _error(400, "Provided MD5 hash does not match the uploaded data")
        stored = self._store(bucket, name, data, {"contentType": media_type, **metadata})
        return Response.json(200, self._object_shape(stored))

    def _resumable_start(self, request: Request, bucket: str) -> Response:
        session = uuid.uuid4().hex
        self._sessions[session] = {
            "bucket": bucket,
            "metadata": request.json if isinstance(request.json, dict) else {},
            "type": request.header("x-upload-content-type") or "application/octet-stream",
            "data": b"",
        }
        location = (
            f"{self.url}/upload/storage/v1/b/{bucket}/o?uploadType=resumable&upload_id={session}"
        )
        return Response(200, b"", {"Location": location})

    def _resumable_put(self, request: Request) -> Response:
        session = self._sessions.get(request.query["upload_id"])
        if session is None:
            return _error(404, "No such upload session")
        span = re.fullmatch(
            r"bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)", request.header("content-range") or ""
        )
        if span is None:
            return _error(400, "bad Content-Range")
        start, total = span.group(1), span.group(3)
        if start is not None:
            if int(start) != len(session["data"]):
                return _error(400, "Content-Range does not continue the upload")
            session["data"] += request.body
        if total != "*" and len(session["data"]) == int(total):
            del self._sessions[request.query["upload_id"]]
            return self._finish_upload(
                session["bucket"], session["metadata"], session["data"], session["type"]
            )
        received = len(session["data"])
        headers = {"Range": f"bytes=0-{received - 1}"} if received else {}
        return Response(308, b"", headers)

    def _bucket_shape(self, name: str) -> dict[str, Any]:
        return {
            "kind": "storage#bucket",
            "selfLink": f"{self.url}/storage/v1/b/{name}",
            "id": name,
            "name": name,
            "projectNumber": self.project_number,
            "metageneration": "1",
            "location": "US",
            "storageClass": "STANDARD",
            "etag": "CAE=",
            "timeCreated": "2024-01-02T03:04:05.000Z",
            "updated": "2024-01-02T03:04:05.000Z",
            "locationType": "multi-region",
        }

    def _object_shape(self, stored: StoredObject) -> dict[str, Any]:
        path = f"b/{stored.bucket}/o/{stored.name}"
        return {
            "kind": "storage#object",
            "id": f"{stored.bucket}/{stored.name}/{stored.generation}",
            "selfLink": f"{self.url}/storage/v1/{path}",
            "mediaLink": f"{self.url}/download/storage/v1/{path}?alt=media",
            "name": stored.name,
            "bucket": stored.bucket,
            "generation": str(stored.generation),
            "metageneration": "1",
            "contentType": stored.content_type,
            "storageClass": "STANDARD",
            "size": str(len(stored.data)),
            "md5Hash": _b64(hashlib.md5(stored.data).digest()),
            "crc32c": crc32c_of(stored.data),
            "etag": _b64(str(stored.generation).encode()),
            "timeCreated": _now(),
            "updated": _now(),
        }


def _check_spec(spec: dict[str, Any]) -> str | None:
    """What Cloud Build would refuse in a create request (a small, checked subset)."""
    storage = spec.get("source", {}).get("storageSource", {})
    if not storage.get("bucket") or not storage.get("object"):
        return "invalid build: source.storageSource needs bucket and object"
    steps = spec.get("steps") or []
    if not steps or any(not step.get("name") for step in steps):
        return "invalid build: every build needs steps, each with a name"
    if "timeout" in spec and not _DURATION.match(str(spec["timeout"])):
        return f"invalid value for build.timeout: {spec['timeout']!r}"
    for tag in spec.get("tags", []):
        if not _TAG.match(tag):
            return f"invalid build tag {tag!r}: must match {_TAG.pattern}"
    user = set(spec.get("substitutions", {}))
    for step in steps:
        for arg in [*step.get("args", []), step.get("entrypoint", "")]:
            for match in _SUBSTITUTION.finditer(arg):
                key = match.group(2) or match.group(3)
                if key and key not in BUILTIN_SUBSTITUTIONS and key not in user:
                    return (
                        f"invalid value for 'build.substitutions': key in the template \"{key}\" "
                        "is not a valid built-in substitution"
                    )
    return None
