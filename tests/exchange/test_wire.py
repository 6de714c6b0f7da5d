"""Response bodies that are not what their headers say are still read, never crash."""

import gzip
import json

import pytest

from exchange.errors import ExchangeProtocolError
from exchange.retry import RetryPolicy, parse_retry_after
from exchange.wire import RawResponse, decode_body, parse_page

PAGE = {
    "@odata.context": "x",
    "adminapi.warnings@odata.type": "#Collection(String)",
    "@adminapi.warnings": ["no settings of 'X' have been modified"],
    "value": [
        {
            "Name": "a",
            "Guid@data.type": "System.Guid",
            "Guid": "g",
            "EmailAddresses@odata.type": "#Collection(String)",
        }
    ],
    "@odata.nextLink": "https://h/next",
}


def test_real_gzip_is_decompressed() -> None:
    assert decode_body(gzip.compress(b"{}"), "gzip") == b"{}"


def test_gzip_advertised_but_not_applied_keeps_the_body() -> None:
    assert decode_body(b'{"value": []}', "gzip") == b'{"value": []}'


def test_a_page_drops_annotations_and_keeps_warnings_and_next_link() -> None:
    page = parse_page(RawResponse(200, {}, json.dumps(PAGE).encode()), cmdlet="c", request_id="r")
    assert page.objects == [{"Name": "a", "Guid": "g"}]
    assert page.warnings == ["no settings of 'X' have been modified"]
    assert page.next_link == "https://h/next"


@pytest.mark.parametrize(
    "body", [b"", b"You have reached the maximum", b"[1,2]", b'{"novalue": 1}']
)
def test_a_success_that_is_not_a_page_is_a_protocol_error_quoting_the_body(body: bytes) -> None:
    with pytest.raises(ExchangeProtocolError) as caught:
        parse_page(RawResponse(200, {}, body), cmdlet="c", request_id="r")
    assert (body[:10].decode() or "(empty body)") in caught.value.message


@pytest.mark.parametrize(
    ("header", "seconds"), [("1.5", 1.5), ("3", 3.0), ("-2", 0.0), ("soon", None), ("", None)]
)
def test_retry_after_accepts_decimal_seconds(header: str, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_retry_after_accepts_an_http_date_in_the_past_as_now() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_429_waits_as_long_as_retry_after_says_capped_by_the_policy() -> None:
    policy = RetryPolicy(max_retry_after_seconds=10)
    assert policy.delay(0, RawResponse(429, {"retry-after": "2.5"}, b"")) == 2.5
    assert policy.delay(0, RawResponse(429, {"retry-after": "600"}, b"")) == 10


def test_backoff_doubles_with_jitter() -> None:
    policy = RetryPolicy(backoff_seconds=2)
    for retry_number, nominal in [(0, 2), (1, 4), (3, 16)]:
        assert 0.75 * nominal <= policy.delay(retry_number) <= 1.25 * nominal


@pytest.mark.parametrize(
    ("status", "exception_type", "retried"),
    [
        (429, "", True),
        (503, "", True),
        (504, "", True),
        (500, "X.ADTransientException", True),
        (500, "System.NullReferenceException", False),
        (400, "", False),
        (404, "", False),
        (403, "", False),
    ],
)
def test_which_statuses_are_retried(status: int, exception_type: str, retried: bool) -> None:
    assert RetryPolicy().should_retry(RawResponse(status, {}, b""), exception_type, "") is retried
