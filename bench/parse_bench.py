"""Parser speed and memory: per-message time over the corpus, throughput, and the peak
memory of parsing one 30 MB message (a big base64 attachment beside a normal text part).

    python bench/parse_bench.py [--corpus tests/data/corpus] [--rounds 20]
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import time
import tracemalloc
from pathlib import Path

from pcse_intake.parsers import ParseOptions, parse

ROOT = Path(__file__).resolve().parent.parent


def big_message(size_mb: int = 30) -> bytes:
    """A request with a large attachment, as NHSmail would deliver it (base64, CRLF)."""
    payload = base64.encodebytes(os.urandom(size_mb * 1024 * 1024 * 3 // 4))
    payload = payload.replace(b"\n", b"\r\n")
    head = (
        b"From: Jane Doe <jane.doe@nhs.net>\r\nTo: pcse.datamanager@nhs.net\r\n"
        b"Subject: Update practice email address\r\nMessage-ID: <big@example>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n"
        b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Practice name: Greenlane Surgery\r\nPractice code: A12345\r\n"
        b"Current practice email address: greenlane.surgery@nhs.net\r\n"
        b"New practice email address: greenlane.admin@nhs.net\r\n\r\n"
        b"--b1\r\nContent-Type: application/pdf; name=scan.pdf\r\n"
        b"Content-Disposition: attachment; filename=scan.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
    )
    return head + payload + b"\r\n--b1--\r\n"


def big_text_message(size_mb: int = 30) -> bytes:
    """The worst case for the text path: 30 MB of quoted-printable HTML in one part."""
    row = b"<p class=3DMsoNormal>Practice code: A12345 &nbsp; 0113 496 0000</p>\r\n"
    body = row * (size_mb * 1024 * 1024 // len(row))
    head = (
        b"From: Jane Doe <jane.doe@nhs.net>\r\nSubject: Update practice email address\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    )
    return head + body


def _peak(raw: bytes) -> tuple[float, float, str]:
    tracemalloc.start()
    t0 = time.perf_counter()
    result = parse(raw, ParseOptions(max_message_bytes=64 * 1024 * 1024))
    took = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return took, peak, result.kind.value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests" / "data" / "corpus")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    messages = [p.read_bytes() for p in sorted(args.corpus.glob("*.eml"))]
    options = ParseOptions()
    for raw in messages:  # warm up: imports, compiled patterns, the first-name list
        parse(raw, options)

    per_message: list[float] = []
    start = time.perf_counter()
    for _ in range(args.rounds):
        for raw in messages:
            t0 = time.perf_counter()
            parse(raw, options)
            per_message.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - start
    count = len(per_message)
    per_message.sort()
    print(f"messages: {len(messages)} x {args.rounds} rounds = {count} parses, one core")
    print(f"median:   {statistics.median(per_message) * 1000:.2f} ms per message")
    print(f"p95:      {per_message[int(count * 0.95)] * 1000:.2f} ms per message")
    print(f"max:      {per_message[-1] * 1000:.2f} ms per message")
    print(f"rate:     {count / elapsed:.0f} messages per second")

    for label, big in (
        ("30 MB attachment", big_message()),
        ("30 MB of HTML text", big_text_message()),
    ):
        took, peak, kind = _peak(big)
        print(
            f"{label}: {len(big) / 1e6:.1f} MB raw, parsed in {took * 1000:.0f} ms, "
            f"peak {(len(big) + peak) / 1e6:.1f} MB (the raw bytes plus {peak / 1e6:.1f} MB "
            f"allocated while parsing, tracemalloc), kind={kind}"
        )
        del big


if __name__ == "__main__":
    main()
