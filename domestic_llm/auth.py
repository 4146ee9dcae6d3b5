"""Token providers for gateways whose tokens expire.

A token provider is any callable returning the current token (or an awaitable of
it, for async-only use). The client asks it before each request and, after a
401, calls its `invalidate()` (if it has one) and asks once more.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

import httpx

from .errors import AuthenticationError, MalformedResponseError, error_class_for, redact_url


class HuaweiIAMTokenProvider:
    """Huawei Cloud IAM password-grant token for Pangu V1 (`X-Auth-Token`).

    `POST {iam_url}/v3/auth/tokens`; the token comes back in the `X-Subject-Token`
    header and is cached until `refresh_margin` seconds before its `expires_at`.
    The password is never shown in `repr` or errors.
    """

    def __init__(
        self,
        *,
        iam_url: str,
        username: str,
        password: str,
        domain_name: str,
        project_name: str | None = None,
        project_id: str | None = None,
        refresh_margin: float = 300.0,
        timeout: float = 30.0,
        verify: bool | str = True,
    ) -> None:
        if not (project_name or project_id):
            raise ValueError("HuaweiIAMTokenProvider needs project_name= or project_id= (the token's scope)")
        self.iam_url = iam_url.rstrip("/")
        self.username = username
        self._password = password
        self.domain_name = domain_name
        self.project_name = project_name
        self.project_id = project_id
        self.refresh_margin = refresh_margin
        self.timeout = timeout
        self.verify = verify
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"HuaweiIAMTokenProvider(iam_url={self.iam_url!r}, username={self.username!r}, domain_name={self.domain_name!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """Forget the cached token (the gateway said it is no longer valid)."""
        with self._lock:
            self._token = None
            self._expires = 0.0

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or time.time() >= self._expires - self.refresh_margin:
                self._token, self._expires = self._fetch()
            return self._token

    def _body(self) -> dict[str, Any]:
        scope = {"id": self.project_id} if self.project_id else {"name": self.project_name}
        return {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": self.username, "password": self._password, "domain": {"name": self.domain_name}}
                    },
                },
                "scope": {"project": scope},
            }
        }

    def _fetch(self) -> tuple[str, float]:
        url = f"{self.iam_url}/v3/auth/tokens"
        resp = httpx.post(url, json=self._body(), timeout=self.timeout, verify=self.verify)
        if resp.status_code >= 400:
            message = resp.text[:300].replace(self._password, "***")
            cls = AuthenticationError if resp.status_code in (400, 401, 403) else error_class_for(resp.status_code)
            raise cls(f"IAM token request failed: HTTP {resp.status_code}: {message}", status=resp.status_code, url=url)
        token = resp.headers.get("x-subject-token")
        if not token:
            raise MalformedResponseError(f"IAM answered without an X-Subject-Token header ({redact_url(url)})", url=url)
        try:
            expires_at = resp.json()["token"]["expires_at"]
            expires = datetime.fromisoformat(expires_at.replace("Z", "+00:00")).timestamp()
        except (ValueError, KeyError, TypeError):
            expires = time.time() + 3600  # undocumented body: assume an hour, refreshed on 401 anyway
        return token, expires
