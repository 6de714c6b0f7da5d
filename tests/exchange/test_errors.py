"""Error details in both formats, classified by exception type and message, never by status."""

import json

import pytest

from exchange import errors
from exchange.errors import classify, error_parts_from_body, is_transient, parse_detail
from exchange.wire import RawResponse, error_from_response

NOT_FOUND_PIPE = (
    "Ex6F9304|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|"
    "The operation couldn't be performed because object 'x' couldn't be found on "
    "'DC1.PROD.OUTLOOK.COM'."
)


def _body(detail_message: str) -> bytes:
    return json.dumps(
        {
            "error": {
                "code": "BadRequest",
                "message": "Error executing cmdlet",
                "details": [{"code": "Client", "target": "", "message": detail_message}],
            },
            "@adminapi.warnings": [],
        }
    ).encode()


def test_pipe_detail_splits_into_id_type_and_message_keeping_pipes_in_the_message() -> None:
    error_id, exception_type, message = parse_detail("Ex1|A.B.SomeException|one | two")
    assert (error_id, exception_type, message) == ("Ex1", "A.B.SomeException", "one | two")


def test_pipe_detail_with_an_empty_error_id() -> None:
    assert parse_detail("|A.MemberAlreadyExistsException|msg") == (
        "",
        "A.MemberAlreadyExistsException",
        "msg",
    )


def test_json_string_detail_gives_type_name_and_message() -> None:
    detail = json.dumps(
        {
            "Message": 'Couldn\'t find object "x".',
            "TypeName": "Microsoft.Exchange.X.ManagementObjectNotFoundException",
            "StackTrace": None,
            "InnerError": None,
        }
    )
    assert parse_detail(detail) == (
        "",
        "Microsoft.Exchange.X.ManagementObjectNotFoundException",
        'Couldn\'t find object "x".',
    )


def test_pipe_detail_with_empty_id_and_type_keeps_only_the_message() -> None:
    assert parse_detail("||User is not allowed to call Add-DistributionGroupMember") == (
        "",
        "",
        "User is not allowed to call Add-DistributionGroupMember",
    )


def test_a_detail_in_neither_format_is_kept_whole_as_the_message() -> None:
    assert parse_detail("something odd | happened") == ("", "", "something odd | happened")


@pytest.mark.parametrize(
    ("exception_type", "message", "expected"),
    [
        ("X.ManagementObjectNotFoundException", "", errors.ObjectNotFound),
        (
            "",
            'Couldn\'t find object "x". Please make sure that it was spelled correctly',
            errors.ObjectNotFound,
        ),
        (
            "Microsoft.Exchange.Management.Tasks.MemberAlreadyExistsException",
            "",
            errors.MemberAlreadyExists,
        ),
        ("", 'The recipient "a" isn\'t a member of the group "g".', errors.MemberNotFound),
        (
            "",
            'The proxy address "SMTP:a@b" is already being used by the proxy addresses or '
            'LegacyExchangeDN of "g".',
            errors.AddressInUse,
        ),
        (
            "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException",
            "The object 'CN=g' already exists.",
            errors.NameInUse,
        ),
        ("X.OperationRequiresGroupManagerException", "", errors.NotGroupManager),
        (
            "",
            "... can't be performed on the object 'g' because the object is being synchronized "
            "from your on-premises organization.",
            errors.DirSyncedObject,
        ),
        (
            "",
            "User is not allowed to call Add-DistributionGroupMember",
            errors.ExchangePermissionError,
        ),
        (
            "",
            "The role assigned to application 123 isn't supported in this scenario",
            errors.ExchangePermissionError,
        ),
        ("X.ManagementObjectAmbiguousException", "", errors.AmbiguousIdentity),
        ("System.Management.Automation.ParameterBindingException", "", errors.InvalidParameter),
        ("Some.NewException", "never seen before", errors.CmdletError),
    ],
)
def test_classification_by_type_or_message(
    exception_type: str, message: str, expected: type[errors.ExchangeError]
) -> None:
    assert classify(exception_type, message) is expected


@pytest.mark.parametrize("status", [400, 404])
def test_not_found_is_the_same_error_whatever_the_status(status: int) -> None:
    response = RawResponse(status, {}, _body(NOT_FOUND_PIPE))
    error = error_from_response(response, cmdlet="Get-DistributionGroup", request_id="r1")
    assert isinstance(error, errors.ObjectNotFound)
    assert error.status == status and error.error_id == "Ex6F9304"
    assert "couldn't be found" in error.message and error.request_id == "r1"


def test_an_empty_403_becomes_a_permission_error_carrying_the_diagnostics_header() -> None:
    response = RawResponse(403, {"x-ms-diagnostics": "2000003;reason=role missing"}, b"")
    error = error_from_response(response, cmdlet="Add-DistributionGroupMember", request_id="r")
    assert isinstance(error, errors.ExchangePermissionError)
    assert "role missing" in error.message


def test_a_plain_text_error_body_is_reported_not_parsed() -> None:
    response = RawResponse(502, {}, b"<html>Bad gateway</html>")
    error = error_from_response(response, cmdlet="Get-User", request_id="r")
    assert type(error) is errors.CmdletError and "Bad gateway" in error.message


@pytest.mark.parametrize("body", [None, [], "text", {"error": "flat"}, {"error": {"details": "x"}}])
def test_malformed_error_bodies_never_raise(body: object) -> None:
    assert error_parts_from_body(body)[1] == ""


def test_transient_500s_are_recognised_by_their_exception_names() -> None:
    assert is_transient("Microsoft.Exchange.Data.Directory.ADTransientException", "")
    assert is_transient("", "DCOverloadedException: try later")
    assert not is_transient("System.NullReferenceException", "Object reference not set")
