"""`pcse-intake serve`: starts the console under uvicorn, and refuses unsafe or unready setups."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from pcse_intake.inbox_worker.smtp_sink import free_port
from pcse_intake.workflows.db import make_engine
from pcse_intake.workflows.migrate import upgrade

# The command line as an installed `pcse-intake` would run it, from this interpreter.
CLI = [sys.executable, "-c", "from pcse_intake.inbox_worker.cli import main; main()"]


def write_config(tmp_path: Path, *, url: str, bind: str, port: int, secure: bool) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "{url}"\n\n'
        f'[console]\nbind = "{bind}"\nport = {port}\nsecure_cookies = {str(secure).lower()}\n',
        encoding="utf-8",
    )
    return config


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_serve_answers_on_its_port_with_the_security_headers(
    tmp_path: Path, sqlite_url: str
) -> None:
    upgrade(make_engine(sqlite_url))
    port = free_port()
    config = write_config(tmp_path, url=sqlite_url, bind="127.0.0.1", port=port, secure=False)
    server = subprocess.Popen(
        [*CLI, "--config", str(config), "serve"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/sign-in", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "the console did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        assert "Sign in" in response.text
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "server" not in response.headers
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_serve_refuses_plain_http_cookies_off_loopback(tmp_path: Path, sqlite_url: str) -> None:
    config = write_config(tmp_path, url=sqlite_url, bind="0.0.0.0", port=free_port(), secure=False)
    result = run_cli("--config", str(config), "serve", cwd=tmp_path)
    assert result.returncode == 2
    assert "secure_cookies = false is only allowed on loopback" in result.stderr


def test_serve_refuses_an_unmigrated_database(tmp_path: Path, sqlite_url: str) -> None:
    config = write_config(
        tmp_path, url=sqlite_url, bind="127.0.0.1", port=free_port(), secure=False
    )
    result = run_cli("--config", str(config), "serve", cwd=tmp_path)
    assert result.returncode == 2
    assert "pcse-intake db upgrade" in result.stderr
