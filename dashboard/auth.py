"""Two bearer tokens: a read-only one for the page and its API, an admin one for what changes things
(subscriptions, item changes) and for the reporters download, which names people.

The page sets the read token as a cookie when it is opened with ``?token=``, so the
browser's own requests (fetch, EventSource) carry it without putting it in every URL.
Tokens that the settings leave unset are generated once and kept in CANYU_HOME/secrets.
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from canyu.settings import Settings
from canyu_runtime.private import secret_path, stored_secret

COOKIE = "canyu_token"

bearer = HTTPBearer(auto_error=False, description="the read-only token (or the admin token) as a bearer token")


TOKENS = ("dashboard_token", "dashboard_admin_token")


def with_tokens(settings: Settings) -> Settings:
    """The settings with each unset token read from its file under CANYU_HOME/secrets, made on first use.

    The files are the operator's only (0600 in a 0700 folder); what is printed is where they are
    (``token_file``), never a token, so a log of `canyu dashboard` or `canyu up` shows none.
    """
    given = settings.flat()
    missing = {name: stored_secret(settings, name, create=True) for name in TOKENS if given[name] is None}
    return settings.replace(**missing)


def token_file(settings: Settings, name: str = "dashboard_token") -> Path:
    return secret_path(settings, name)


def _matches(given: str | None, expected: str | None) -> bool:
    return given is not None and expected is not None and hmac.compare_digest(given.encode(), expected.encode())


def presented(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> str | None:
    return credentials.credentials if credentials else request.cookies.get(COOKIE)


def _refuse(status: int, why: str) -> HTTPException:
    return HTTPException(status, why, headers={"WWW-Authenticate": "Bearer"})


def is_reader(settings: Settings, token: str | None) -> bool:
    return _matches(token, settings.dashboard.token) or _matches(token, settings.dashboard.admin_token)


def is_admin(settings: Settings, token: str | None) -> bool:
    return _matches(token, settings.dashboard.admin_token)


def reader(request: Request, token: Annotated[str | None, Depends(presented)]) -> None:
    """Dependency: the read-only token or the admin token."""
    if token is None:
        raise _refuse(401, "a token is required: Authorization: Bearer <token>")
    if not is_reader(request.app.state.settings, token):
        raise _refuse(401, "the token is not valid")


def admin(request: Request, token: Annotated[str | None, Depends(presented)]) -> None:
    """Dependency: the admin token only; a valid read-only token is known but not allowed (403)."""
    settings = request.app.state.settings
    if token is None:
        raise _refuse(401, "the admin token is required: Authorization: Bearer <admin token>")
    if is_admin(settings, token):
        return
    if _matches(token, settings.dashboard.token):
        raise HTTPException(403, "the read-only token cannot do this: it needs the admin token")
    raise _refuse(401, "the token is not valid")


def admin_router(prefix: str) -> APIRouter:
    """A router whose every route takes the admin token only (subscriptions, items)."""
    return APIRouter(
        prefix=prefix,
        tags=["admin"],
        dependencies=[Depends(admin)],
        responses={401: {"description": "no valid token"}, 403: {"description": "not the admin token"}},
    )
