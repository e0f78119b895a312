"""The OAuth2 token refresher, with a fake provider behind the TokenProvider Protocol.

What this proves: tokens are reused until 5 minutes before expiry, refreshed then, a failed
refresh is logged loudly and retried, and an old token is used while it is still valid.
What it cannot prove here: that msal reaches Microsoft Entra ID and that NHSmail accepts the
token for XOAUTH2 (no network to Microsoft from CI); see docs/operations.md.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pcse_intake.inbox_worker.oauth import AccessToken, RefreshingToken, TokenError

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class FakeProvider:
    def __init__(self, *, failures: int = 0, lifetime: timedelta = timedelta(hours=1)) -> None:
        self.calls = 0
        self.failures = failures
        self.lifetime = lifetime

    def fetch(self, now: datetime) -> AccessToken:
        self.calls += 1
        if self.failures:
            self.failures -= 1
            raise RuntimeError("AADSTS7000215: invalid client secret")
        return AccessToken(f"token-{self.calls}", now + self.lifetime)


def _refresher(provider: FakeProvider, attempts: int = 3) -> RefreshingToken:
    return RefreshingToken(provider, attempts=attempts, wait_seconds=0, sleep=lambda _s: None)


def test_a_token_is_reused_until_five_minutes_before_it_expires_then_refreshed() -> None:
    provider = FakeProvider()
    token = _refresher(provider)
    assert token.current(T0) == "token-1"
    assert token.current(T0 + timedelta(minutes=54)) == "token-1"
    assert token.current(T0 + timedelta(minutes=56)) == "token-2"
    assert provider.calls == 2


def test_a_failed_refresh_is_logged_loudly_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    provider = FakeProvider(failures=2)
    assert _refresher(provider).current(T0) == "token-3"
    assert provider.calls == 3
    assert any(r.levelname == "ERROR" and "retrying" in r.getMessage() for r in caplog.records)


def test_when_refresh_keeps_failing_the_old_token_serves_until_it_expires() -> None:
    provider = FakeProvider()
    token = _refresher(provider, attempts=2)
    assert token.current(T0) == "token-1"
    provider.failures = 100
    assert token.current(T0 + timedelta(minutes=57)) == "token-1"  # still valid: keep going
    with pytest.raises(TokenError, match="no valid OAuth2 token"):
        token.current(T0 + timedelta(minutes=61))
