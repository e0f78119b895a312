"""The console's queue page with 10,000 requests: time per page, served by uvicorn over loopback.

    python bench/queue_bench.py [--url postgresql+psycopg://postgres@127.0.0.1:5432/test] \
        [--requests 10000] [--rounds 50]

Without --url a fresh SQLite file in a temporary folder is used. With --url the database
named there must be empty or absent-of-tables (a throwaway one): the script creates the tables.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import random
import re
import socket
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import uvicorn
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from sqlalchemy import insert

from pcse_intake.config import ConsoleSettings, Settings
from pcse_intake.console.app import create_app
from pcse_intake.workflows import staff as staff_accounts
from pcse_intake.workflows.db import make_engine, make_sessionmaker, transaction
from pcse_intake.workflows.migrate import upgrade
from pcse_intake.workflows.models import Request, StaffRole, utcnow
from pcse_intake.workflows.queue import QueueFilter, queue_page

PASSWORD = "Bench-mark-2026!"
KINDS = ["email_change", "main_contact_extension", "branch_setup", "new_practice_setup"]
# Most requests in a mature database are closed; the queue shows the open ones.
STATES = (
    ["completed"] * 5
    + ["rejected"]
    + ["awaiting_verification"] * 2
    + [
        "awaiting_information",
        "verified",
    ]
)
EVERY_STATE = "".join(f"&state={s}" for s in sorted(set(STATES)))
PAGES = {
    "open requests, page 1": "/",
    "open requests, page 40": "/?page=40",
    "state = verified": "/?state=verified",
    "kind + two states": "/?kind=branch_setup&state=completed&state=rejected",
    "search by reference": "/?q=PCSE-004321" + EVERY_STATE,
    "search by ODS code": "/?q=B81234" + EVERY_STATE,
    "search by practice name": "/?q=surgery+42" + EVERY_STATE,
    "search by e-mail address": "/?q=practice4242@nhs.net" + EVERY_STATE,
}


def seed(sessions: object, count: int) -> None:
    rng = random.Random(5)
    now = utcnow()
    rows = []
    for i in range(count):
        received = now - timedelta(minutes=rng.randint(0, 60 * 24 * 365))
        state = rng.choice(STATES)
        ods = f"B{81000 + i % 900:05d}"
        rows.append(
            {
                "kind": rng.choice(KINDS),
                "state": state,
                "ods_code": ods,
                "practice_name": f"Practice {i} Surgery {i % 97}",
                "sender": f"practice{i}@nhs.net",
                "received_at": received,
                "updated_at": received,
                "awaiting_verification_since": received
                if state == "awaiting_verification"
                else None,
                "fields": {"practice": {"ods_code": ods, "new_email": f"new{i}@nhs.net"}},
                "missing": [],
                "problems": [],
                "auth_verdict": "pass",
                "no_answer_count": 0,
                "version": 1,
            }
        )
    with transaction(sessions) as session:  # type: ignore[arg-type]
        session.execute(insert(Request), rows)
        # A cheap hash for the benchmark account only: signing in is not what is measured.
        staff_accounts._hasher = PasswordHasher.from_parameters(CHEAPEST)
        staff_accounts.create_staff(
            session, username="bench", role=StaffRole.VERIFIER, password=PASSWORD, now=now
        )


def serve_forever(url: str, sock: socket.socket) -> None:
    """The child process: the console on `url`, as `pcse-intake serve` would run it."""
    settings = dataclasses.replace(Settings(), console=ConsoleSettings(secure_cookies=False))
    app = create_app(settings, make_sessionmaker(make_engine(url)))
    uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off")).run(sockets=[sock])


@contextmanager
def served(url: str) -> Iterator[str]:
    """uvicorn in its own process (as in production: no GIL shared with the client)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Inherited by accepted connections. uvicorn sets it when it binds the socket itself (as
    # `pcse-intake serve` does) but not on a socket handed to it; without it every response
    # on a kept-alive connection stalls ~40 ms (Nagle against delayed ACKs).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    child = multiprocessing.get_context("fork").Process(target=serve_forever, args=(url, sock))
    child.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/sign-in", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield base
    finally:
        child.terminate()
        child.join(timeout=10)
        sock.close()


def signed_in_client(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    form = client.get("/sign-in")
    token = re.search(r'name="signin_token" value="([^"]+)"', form.text)
    assert token is not None
    response = client.post(
        "/sign-in", data={"username": "bench", "password": PASSWORD, "signin_token": token.group(1)}
    )
    assert response.status_code == 303, response.text
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", default=None, help="database URL (default: a new SQLite file)")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="pcse-queue-bench-")
    url = args.url or f"sqlite:///{Path(folder) / 'bench.db'}"
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    t0 = time.perf_counter()
    seed(sessions, args.requests)
    print(f"database: {engine.url.render_as_string(hide_password=True)}")
    print(f"seeded {args.requests} requests in {time.perf_counter() - t0:.1f} s")

    with transaction(sessions) as session:
        t0 = time.perf_counter()
        for _ in range(args.rounds):
            queue_page(session, filters=QueueFilter())
        per_query = (time.perf_counter() - t0) / args.rounds
    print(f"workflows.queue.queue_page (open, page 1) alone: {per_query * 1000:.1f} ms")

    engine.dispose()  # the server process opens its own connections
    with served(url) as base:
        client = signed_in_client(base)
        print(f"\n{'page':<28} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}  rows shown / total")
        for label, path in PAGES.items():
            client.get(path)  # warm up
            timings = []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                response = client.get(path)
                timings.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, response.status_code
            total = re.search(r"(\d+) requests?, oldest first", response.text)
            shown = response.text.count('<tr class="nhsuk-table__row">')
            timings.sort()
            p95 = timings[int(len(timings) * 0.95) - 1]
            print(
                f"{label:<28} {statistics.median(timings):>10.1f} {p95:>8.1f} {timings[-1]:>8.1f}"
                f"  {shown} / {total.group(1) if total else '?'}"
            )
        client.close()
    engine.dispose()


if __name__ == "__main__":
    main()
