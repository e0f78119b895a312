"""App-only OAuth2 access tokens for XOAUTH2 (Microsoft 365 / NHSmail), refreshed before expiry."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

log = logging.getLogger(__name__)

# Refresh this long before the token expires, so a poll never starts with a dying token.
REFRESH_MARGIN = timedelta(minutes=5)


class TokenError(Exception):
    """No usable access token could be obtained."""


@dataclass(frozen=True)
class AccessToken:
    value: str
    expires_at: datetime


class TokenProvider(Protocol):
    """Obtains a fresh token from the identity platform (msal in production, a fake in tests)."""

    def fetch(self, now: datetime) -> AccessToken: ...


class MsalTokenProvider:
    """Client-credentials flow with msal: the app's own identity, no user sign-in."""

    def __init__(self, *, tenant_id: str, client_id: str, client_secret: str, scope: str) -> None:
        import msal

        self._scope = scope
        self._app = msal.ConfidentialClientApplication(
            client_id,
            authority=f"https://login.microsoftonline.com/{tenant_id}",
            client_credential=client_secret,
        )

    def fetch(self, now: datetime) -> AccessToken:
        result: dict[str, Any] = self._app.acquire_token_for_client(scopes=[self._scope])
        token = result.get("access_token")
        if not token:
            # msal returns the error in the dict; its description never holds the secret.
            reason = result.get("error_description") or result.get("error") or "no token"
            raise TokenError(" ".join(str(reason).split())[:300])
        return AccessToken(str(token), now + timedelta(seconds=int(result.get("expires_in", 0))))


class RefreshingToken:
    """Hands out a valid token, refreshing it ahead of expiry; failed refreshes are loud."""

    def __init__(
        self,
        provider: TokenProvider,
        *,
        attempts: int = 3,
        wait_seconds: float = 2.0,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._provider = provider
        self._token: AccessToken | None = None
        self._lock = threading.Lock()
        self._attempts = attempts
        self._wait = wait_seconds
        self._sleep = sleep

    def current(self, now: datetime) -> str:
        with self._lock:
            token = self._token
            if token is not None and now < token.expires_at - REFRESH_MARGIN:
                return token.value
            try:
                self._token = token = self._refresh(now)
            except Exception as exc:
                # Loud, but keep working with the old token while it is still valid.
                log.error("oauth token refresh failed: %s", " ".join(str(exc).split())[:300])
                if token is not None and now < token.expires_at:
                    return token.value
                raise TokenError(f"no valid OAuth2 token: {exc}") from exc
            return token.value

    def _refresh(self, now: datetime) -> AccessToken:
        kwargs: dict[str, Any] = {}
        if self._sleep is not None:
            kwargs["sleep"] = self._sleep
        for attempt in Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=self._wait, max=60),
            retry=retry_if_exception_type(Exception),
            reraise=True,
            before_sleep=lambda state: log.error(
                "oauth token refresh attempt %d failed; retrying", state.attempt_number
            ),
            **kwargs,
        ):
            with attempt:
                return self._provider.fetch(now)
        raise TokenError("unreachable")  # pragma: no cover - Retrying always returns or raises
