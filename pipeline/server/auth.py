"""Bearer-token authentication: one shared token, compared in constant time, never logged."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from pipeline.secret import Secret

bearer = HTTPBearer(
    auto_error=False,
    description="The token of the server's SOMLIER_API_TOKEN variable (api.token_env), as "
    "`Authorization: Bearer TOKEN`.",
)

UNAUTHORIZED = "missing or wrong bearer token: send 'Authorization: Bearer TOKEN'"


def token_matches(given: str, expected: Secret) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.reveal().encode("utf-8"))


def authorized(request: Request) -> bool:
    """Whether ``request`` carries the server's token (always, when auth is off)."""
    expected: Secret | None = request.app.state.config.token
    if expected is None:
        return True
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and token_matches(given.strip(), expected)


def unauthorized() -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"}
    )


def require_token(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],  # declares it in the spec
) -> None:
    """A FastAPI dependency: 401 unless the request carries the server's token (or auth is off)."""
    if not authorized(request):
        raise unauthorized()
