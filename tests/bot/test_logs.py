"""Logging as every dlbot process configures it: JSON lines, bound context, redaction, levels."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import jwt
import pytest
from aiohttp import web
from pydantic import SecretStr, ValidationError

from bot.logs import (
    REDACTED,
    Redactor,
    bind_correlation,
    configure_logging,
    correlation,
    fresh_context,
    new_correlation_id,
)
from bot.settings import Settings
from tests.bot.log_capture import CapturedLogs, captured_logs, leaks
from tests.playground.doubles import serve

BOT_PASSWORD = "bot-password-Zq8~value"
EXCHANGE_SECRET = "exchange-secret-7Hk.value"
CERT_PASSWORD = "pfx-password-3Jm!value"
TOKEN = jwt.encode({"aud": "https://outlook.office365.com", "sub": "x"}, "k" * 32)


def _settings() -> Settings:
    return Settings(
        _env_file=None,
        bot_app_password=SecretStr(BOT_PASSWORD),
        exchange_client_secret=SecretStr(EXCHANGE_SECRET),
        exchange_certificate_password=SecretStr(CERT_PASSWORD),
    )


@pytest.fixture
def logs() -> Iterator[CapturedLogs]:
    with captured_logs(_settings()) as captured:
        yield captured


def test_a_stdlib_log_line_is_one_json_object_with_time_level_logger_and_event(
    logs: CapturedLogs,
) -> None:
    logging.getLogger("approvals.service").info("request %s submitted", "r1")

    (record,) = logs.records()
    assert record["event"] == "request r1 submitted"
    assert record["level"] == "info"
    assert record["logger"] == "approvals.service"
    assert record["timestamp"].endswith("Z")


def test_bound_correlation_and_extra_fields_appear_on_the_line(logs: CapturedLogs) -> None:
    with correlation("activity-42", request_id="r1"):
        logging.getLogger("exchange.client").info(
            "call", extra={"cmdlet": "Get-User", "client_request_id": "c-1", "status": 200}
        )
    logging.getLogger("exchange.client").info("after")

    first, after = logs.records()
    assert first["correlation_id"] == "activity-42"
    assert first["request_id"] == "r1"
    assert (first["cmdlet"], first["client_request_id"], first["status"]) == (
        "Get-User",
        "c-1",
        200,
    )
    assert "correlation_id" not in after


def test_an_exception_is_a_field_of_its_own_line_not_lines_of_its_own(logs: CapturedLogs) -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("bot.app").exception("turn failed")

    (record,) = logs.records()
    assert "RuntimeError: boom" in record["exception"]


def test_the_console_format_is_readable_lines_for_the_demo_and_redacted_too() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    handler = configure_logging(_settings(), console=True, level="INFO", stream=stream)
    try:
        logging.getLogger("bot.demo").info("the demo is ready")
        try:
            raise ValueError(f"could not open the pfx with {CERT_PASSWORD}")
        except ValueError:
            logging.getLogger("bot.demo").exception("certificate")
    finally:
        root.removeHandler(handler)
        for old in before[0]:
            root.addHandler(old)
        root.setLevel(before[1])

    line, *trace = stream.getvalue().strip().splitlines()
    assert "the demo is ready" in line and "bot.demo" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)
    assert f"ValueError: could not open the pfx with {REDACTED}" in trace


def test_configured_secrets_are_redacted_from_messages_fields_and_traces(
    logs: CapturedLogs,
) -> None:
    log = logging.getLogger("bot.adapter")
    log.warning("password is %s", BOT_PASSWORD)
    log.info("form", extra={"body": f"grant_type=client_credentials&x={EXCHANGE_SECRET}"})
    try:
        raise ValueError(f"could not open the pfx with {CERT_PASSWORD}")
    except ValueError:
        log.exception("certificate")

    text = "\n".join(logs.lines())
    for secret in (BOT_PASSWORD, EXCHANGE_SECRET, CERT_PASSWORD):
        assert secret not in text
    assert text.count(REDACTED) >= 3


@pytest.mark.parametrize(
    "message",
    [
        f"Authorization: Bearer {TOKEN}",
        f"headers={{'authorization': 'Bearer {TOKEN}'}}",
        f"token {TOKEN} expired",
        "client_id=app&client_secret=s3cr3t-value&scope=x",
        "client_assertion=abc.def.ghi&grant_type=client_credentials",
        "Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l",
    ],
)
def test_credential_shapes_are_redacted_whatever_their_value(
    logs: CapturedLogs, message: str
) -> None:
    logging.getLogger("msal").warning("%s", message)

    assert leaks(logs.lines(), []) == []
    assert REDACTED in logs.lines()[0]


def test_the_redactor_leaves_ordinary_words_alone() -> None:
    redactor = Redactor(["hunter2"])
    text = "Add-DistributionGroupMember [3f2a] attempt 1: HTTP 200 in 12 ms; the password field"
    assert redactor.scrub(text) == text


def test_the_scanner_finds_a_line_that_shows_a_secret_or_a_token() -> None:
    plain = logging.Formatter("%(message)s")

    def line(message: str) -> str:
        return plain.format(logging.LogRecord("x", logging.INFO, __file__, 1, message, None, None))

    clean = line("Get-User [c-1] attempt 1: HTTP 200 in 3 ms")
    leaking = [
        line(f"the secret is {EXCHANGE_SECRET}"),
        line(f"Authorization: Bearer {TOKEN}"),
        line(f"token={TOKEN}"),
        line("bearer abc"),
        line("client_secret=abc&client_id=x"),
        line("client_assertion=abc"),
    ]

    assert leaks([clean, *leaking], [EXCHANGE_SECRET]) == leaking
    assert leaks([line(f"Bearer {REDACTED}"), line(f"client_secret={REDACTED}")], []) == []


def test_libraries_stay_at_their_own_levels_when_dlbot_logs_at_debug() -> None:
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    handler = configure_logging(_settings(), level="DEBUG", stream=io.StringIO())
    try:
        assert root.level == logging.DEBUG
        assert logging.getLogger("msal").getEffectiveLevel() == logging.WARNING
        assert logging.getLogger("urllib3.connectionpool").getEffectiveLevel() == logging.WARNING
        assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
        assert logging.getLogger("saq").getEffectiveLevel() == logging.INFO
        assert logging.getLogger("bot.app").getEffectiveLevel() == logging.DEBUG
    finally:
        root.removeHandler(handler)
        for old in before[0]:
            root.addHandler(old)
        root.setLevel(before[1])


def test_an_activity_id_is_the_correlation_id_and_a_hostile_one_is_replaced() -> None:
    assert new_correlation_id("f:1234567890") == "f:1234567890"
    for hostile in (None, "", "x" * 500, "line\nbreak"):
        replaced = new_correlation_id(hostile)
        assert len(replaced) == 32 and replaced.isalnum()


async def test_requests_on_one_keep_alive_connection_do_not_share_a_correlation_id(
    logs: CapturedLogs,
) -> None:
    log = logging.getLogger("bot.app")

    async def tagged(request: web.Request) -> web.Response:
        bind_correlation("first-activity")
        log.info("tagged")
        return web.Response(text="ok")

    async def untagged(request: web.Request) -> web.Response:
        log.info("untagged")
        return web.Response(text="ok")

    app = web.Application(middlewares=[fresh_context])
    app.router.add_get("/tagged", tagged)
    app.router.add_get("/untagged", untagged)
    connector = aiohttp.TCPConnector(limit=1)  # one connection: both requests share it
    async with serve(app) as url, aiohttp.ClientSession(connector=connector) as session:
        for path in ("/tagged", "/untagged"):
            async with session.get(url + path) as response:
                assert response.status == 200

    records = {r["event"]: r for r in logs.records() if r.get("logger") == "bot.app"}
    assert records["tagged"]["correlation_id"] == "first-activity"
    assert "correlation_id" not in records["untagged"]


def test_log_settings_take_any_case_and_refuse_an_unknown_level() -> None:
    settings = Settings(_env_file=None, log_level="debug", log_format="JSON")
    assert (settings.log_level, settings.log_format) == ("DEBUG", "json")
    with pytest.raises(ValidationError, match="log_level"):
        Settings(_env_file=None, log_level="loud")


def test_dlbot_with_an_unknown_log_level_names_the_setting_and_exits_2_without_a_trace(
    tmp_path: Path,
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "requests", "list"],
        cwd=tmp_path,
        env={**os.environ, "DLBOT_LOG_LEVEL": "loud"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert "DLBOT_LOG_LEVEL" in result.stderr and "DEBUG" in result.stderr
    assert "Traceback" not in result.stderr
