"""Redis key names: one request's keys share a hash tag, and nothing typed can break one."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from approvals import keys
from approvals.models import RequestKind

OWNER = "9e986098-d981-4a25-9a89-5bf689ff5e3c"


def test_a_request_key_is_the_request_id_inside_a_hash_tag() -> None:
    assert keys.request("Abc_123-xyz") == "dlbot:req:{Abc_123-xyz}"


def test_a_requesters_claim_list_and_counter_hash_to_one_cluster_slot() -> None:
    names = [
        keys.open_request(OWNER, "list-1", RequestKind.JOIN),
        keys.open_request(OWNER, "list-2", RequestKind.CREATE),
        keys.requests_of(OWNER),
        keys.requests_sequence(OWNER),
    ]
    assert len({key_slot(name.encode()) for name in names}) == 1


def test_the_index_of_open_requests_and_its_versions_hash_to_one_cluster_slot() -> None:
    assert key_slot(keys.OPEN_REQUESTS.encode()) == key_slot(keys.OPEN_VERSIONS.encode())


def test_the_open_claim_names_the_list_and_the_kind() -> None:
    assert keys.open_request(OWNER, "list-1", RequestKind.JOIN) == (
        f"dlbot:user:{{{OWNER}}}:open:list-1:join"
    )


@pytest.mark.parametrize("request_id", ["", "a}b", "a{b", "a b", "a:b", "x" * 65, "é"])
def test_a_value_that_is_not_a_request_id_builds_no_key(request_id: str) -> None:
    assert not keys.is_request_id(request_id)
    with pytest.raises(ValueError):
        keys.request(request_id)


@pytest.mark.parametrize("requester", ["", "a{b", "a}b"])
def test_a_requester_id_with_braces_builds_no_key(requester: str) -> None:
    with pytest.raises(ValueError):
        keys.requests_of(requester)
