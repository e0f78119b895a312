"""Per-request dependencies: the transaction, the clock, who is signed in, and the checks."""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Network, IPv6Network
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session, sessionmaker

from pcse_intake.config import Settings
from pcse_intake.console import csrf
from pcse_intake.console.permissions import Action, allowed
from pcse_intake.console.session_store import SignedIn, find_session

# Refusals of forged forms and of actions beyond a role: candidates for an attack (ASVS 16.3.3).
security_log = logging.getLogger("pcse_intake.console.security")


@dataclass(frozen=True)
class ConsoleState:
    """What create_app was given, kept on `app.state.console`."""

    settings: Settings
    sessions: sessionmaker[Session]
    clock: Callable[[], datetime]

    @property
    def session_cookie(self) -> str:
        # The __Host- prefix pins the cookie to this origin; browsers accept it only if Secure.
        return "__Host-pcse_session" if self.settings.console.secure_cookies else "pcse_session"

    @property
    def signin_cookie(self) -> str:
        return "__Host-pcse_signin" if self.settings.console.secure_cookies else "pcse_signin"

    @property
    def pending_cookie(self) -> str:
        """The half-finished sign-in (password right, code still to come): never a session."""
        return "__Host-pcse_pending" if self.settings.console.secure_cookies else "pcse_pending"

    @property
    def second_factor(self) -> bool:
        return self.settings.console.second_factor != "off"  # fail closed on any other value

    @functools.cached_property
    def trusted_proxies(self) -> tuple[IPv4Network | IPv6Network, ...]:
        return tuple(
            ipaddress.ip_network(p, strict=False) for p in self.settings.console.trusted_proxies
        )


def console_state(request: Request) -> ConsoleState:
    state: ConsoleState = request.app.state.console
    return state


State = Annotated[ConsoleState, Depends(console_state)]


def database(state: State) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent.

    A refusal (an HTTPException such as 401 or 403) still commits: what it recorded (a session
    ended by a timeout) must stick; the workflow changes nothing before it refuses. Any other
    exception rolls everything back.
    """
    with state.sessions() as session:
        session.begin()
        try:
            yield session
        except HTTPException:
            session.commit()
            raise
        except BaseException:
            session.rollback()
            raise
        session.commit()


# scope="function": the commit happens before the response leaves, so a page that says
# "done" is never followed by a failed commit.
DbSession = Annotated[Session, Depends(database, scope="function")]


def now(state: State) -> datetime:
    return state.clock()


Now = Annotated[datetime, Depends(now)]


def client_address(request: Request) -> str:
    """The client's address: the peer's, or, when the peer is a proxy the configuration names
    (`[console] trusted_proxies`), the last address in X-Forwarded-For that is not one of
    those proxies. Anything further left was written by the client and is not believed."""
    peer = request.client.host if request.client else "unknown"
    state: ConsoleState = request.app.state.console
    trusted = state.trusted_proxies
    if not trusted or not _within(peer, trusted):
        return peer
    hops = [
        hop.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for hop in header.split(",")
    ]
    for hop in reversed(hops):
        if not _within(hop, trusted):
            return hop if _is_address(hop) else peer
    return peer


def _within(address: str, networks: tuple[IPv4Network | IPv6Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class SignInRequired(HTTPException):
    def __init__(self) -> None:
        super().__init__(status_code=401, detail="Sign in to continue.")


def signed_in(request: Request, state: State, session: DbSession, moment: Now) -> SignedIn:
    """The signed-in staff member, or 401 (no, ended, timed-out or disabled session)."""
    who = find_session(
        session,
        token=request.cookies.get(state.session_cookie),
        now=moment,
        settings=state.settings.console,
    )
    if who is None:
        raise SignInRequired()
    request.state.signed_in = who  # for the page layout (name, sign-out form)
    return who


Who = Annotated[SignedIn, Depends(signed_in)]


async def csrf_checked(request: Request, who: Who) -> SignedIn:
    """403 unless the POST carries this session's anti-forgery token and is not cross-site."""
    form = await request.form()
    token = form.get("csrf_token")
    if csrf.cross_site(request) or not csrf.tokens_match(
        who.csrf_token, token if isinstance(token, str) else None
    ):
        security_log.warning(
            "refused forged or stale form user=%r path=%r", who.username, request.url.path
        )
        raise HTTPException(
            status_code=403,
            detail="The form could not be checked. Go back, reload the page and try again.",
        )
    return who


Poster = Annotated[SignedIn, Depends(csrf_checked)]


def require(who: SignedIn, action: Action) -> None:
    """403 unless the signed-in person's role may do `action` (checked on every action)."""
    if not allowed(who.role, action):
        security_log.warning(
            "refused by role user=%r role=%s action=%s", who.username, who.role, action.value
        )
        raise HTTPException(
            status_code=403, detail=f"Your role ({who.role}) does not allow you to {action.value}."
        )


@dataclass(frozen=True)
class Posted:
    """Everything a form handler needs, checked: the transaction, the time, who (CSRF-checked)."""

    request: Request
    state: ConsoleState
    session: Session
    now: datetime
    who: SignedIn

    @property
    def by(self) -> str:
        return self.who.username


def posted(request: Request, state: State, session: DbSession, moment: Now, who: Poster) -> Posted:
    return Posted(request, state, session, moment, who)


Post = Annotated[Posted, Depends(posted)]
