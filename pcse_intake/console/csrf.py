"""Anti-forgery checks for every POST: a per-session token, plus the browser's own origin hints."""

from __future__ import annotations

import hmac

from starlette.requests import Request

# Fetch metadata a browser sends with a form POST from a page of ours.
_SAME_SITE_FETCH = {"same-origin", "none"}


def tokens_match(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def cross_site(request: Request) -> bool:
    """True when the browser tells us the POST came from another site.

    Fetch metadata decides when the browser sends it (every current browser does); otherwise
    the Origin header, where "null" (an opaque origin: a sandboxed frame, a data: URL) counts
    as foreign.
    """
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in _SAME_SITE_FETCH
    origin = request.headers.get("origin")
    if origin is None:
        return False  # older browsers and non-browser clients: the token still decides
    own = f"{request.url.scheme}://{request.url.netloc}"
    return origin != own
