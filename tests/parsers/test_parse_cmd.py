"""`pcse-intake parse`: one JSON object, exit 0; exit 2 and one line for usage errors."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pcse_intake.inbox_worker.cli import cli

from .helpers import message

CORPUS = Path(__file__).resolve().parent.parent / "data" / "corpus"


def _config(tmp_path: Path, extra: str = "") -> str:
    path = tmp_path / "config.toml"
    path.write_text(extra, encoding="utf-8")
    return str(path)


def test_parse_prints_one_json_object_and_exits_0(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--config", _config(tmp_path), "parse", str(CORPUS / "003.eml")]
    )
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["kind"] == "new_practice_setup"
    assert set(data) >= {
        "kind",
        "request",
        "missing",
        "problems",
        "sender",
        "message_id",
        "subject",
    }


def test_parse_reads_standard_input_and_indents_with_pretty(tmp_path: Path) -> None:
    raw = message("Practice code: A12345\nNew practice email address: a.surgery@nhs.net\n")
    result = CliRunner().invoke(
        cli, ["--config", _config(tmp_path), "parse", "--pretty", "-"], input=raw
    )
    assert result.exit_code == 0
    assert result.output.startswith("{\n  ")
    assert json.loads(result.output)["request"]["practice"]["ods_code"] == "A12345"


def test_unreadable_file_exits_2_with_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--config", _config(tmp_path), "parse", str(tmp_path / "nope.eml")]
    )
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1


def test_size_limit_comes_from_the_configuration(tmp_path: Path) -> None:
    eml = tmp_path / "big.eml"
    eml.write_bytes(message("x" * 5000))
    config = _config(tmp_path, "[parser]\nmax_message_bytes = 1000\n")
    result = CliRunner().invoke(cli, ["--config", config, "parse", str(eml)])
    assert result.exit_code == 0
    codes = [p["code"] for p in json.loads(result.output)["problems"]]
    assert codes == ["message_too_large"]


def test_authserv_id_comes_from_the_configuration(tmp_path: Path) -> None:
    raw = message(
        "Hello",
        extra="Authentication-Results: forged.example; dmarc=pass\r\n"
        "Authentication-Results: mx.ours.example; dmarc=fail\r\n",
    )
    eml = tmp_path / "m.eml"
    eml.write_bytes(raw)
    config = _config(tmp_path, '[mailbox]\nauthserv_id = "mx.ours.example"\n')
    result = CliRunner().invoke(cli, ["--config", config, "parse", str(eml)])
    codes = [p["code"] for p in json.loads(result.output)["problems"]]
    assert "sender_not_authenticated" in codes


def test_missing_argument_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", _config(tmp_path), "parse"])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1


def test_a_directory_is_an_unreadable_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", _config(tmp_path), "parse", str(tmp_path)])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
