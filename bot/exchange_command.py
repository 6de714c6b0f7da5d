"""`dlbot exchange call <Cmdlet> [Param=Value ...]`: run one cmdlet as the bot would, for admins.

It is how an admin checks what the app's Exchange role allows on a real tenant. Objects go to
stdout as JSON lines; a failure is one line on stderr naming the error class and Exchange's
message, and a non-zero exit.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any, TextIO

from exchange.client import ExchangeClient
from exchange.config import ExchangeConfig
from exchange.errors import ExchangeConfigError, ExchangeError

_CMDLET = re.compile(r"[A-Za-z]+-[A-Za-z]+")
_PARAMETER = re.compile(r"([A-Za-z][A-Za-z0-9]*)(:?=)(.*)", re.S)

EXIT_OK = 0
EXIT_EXCHANGE_ERROR = 1
EXIT_USAGE = 2


class UsageError(ValueError):
    pass


def parse_parameters(arguments: list[str]) -> dict[str, Any]:
    """`Name=text` is a string; `Name:=json` is a JSON value (true, 10, ["a","b"])."""
    parameters: dict[str, Any] = {}
    for argument in arguments:
        match = _PARAMETER.fullmatch(argument)
        if match is None:
            raise UsageError(f"expected Param=Value or Param:=JSON, got {argument!r}")
        name, operator, text = match.groups()
        if operator == ":=":
            try:
                parameters[name] = json.loads(text)
            except ValueError as exc:
                raise UsageError(f"{name}:= needs a JSON value ({exc}); got {text!r}") from exc
        else:
            parameters[name] = text
    return parameters


async def run_exchange_call(
    config: ExchangeConfig,
    cmdlet: str,
    arguments: list[str],
    *,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    try:
        if not _CMDLET.fullmatch(cmdlet):
            raise UsageError(f"{cmdlet!r} is not a cmdlet name (Verb-Noun)")
        parameters = parse_parameters(arguments)
    except UsageError as exc:
        print(f"usage error: {exc}", file=err)
        return EXIT_USAGE
    try:
        async with ExchangeClient(config) as client:
            objects = await client.call_cmdlet(cmdlet, parameters)
    except ExchangeConfigError as exc:
        print(f"{type(exc).__name__}: {exc.message}", file=err)
        return EXIT_USAGE
    except ExchangeError as exc:
        print(describe_error(exc), file=err)
        return EXIT_EXCHANGE_ERROR
    for obj in objects:
        out.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    return EXIT_OK


def describe_error(exc: ExchangeError) -> str:
    facts = [f"HTTP {exc.status}" if exc.status is not None else "", exc.exception_type]
    if exc.request_id:
        facts.append(f"client-request-id {exc.request_id}")
    detail = "; ".join(fact for fact in facts if fact)
    text = f"{type(exc).__name__}: {exc.message}"
    return f"{text} ({detail})" if detail else text
