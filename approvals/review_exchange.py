"""The access reviews' ReviewListFacts over the Exchange Online client: whether a list is
mastered on-premises (and its MemberDepartRestriction, for the audit), and every direct member
when the admin reviews whole lists (Get-DistributionGroupMember, paged by the client)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from approvals.exchange_adapters import PERSON_TYPES
from approvals.models import ListRef, Person
from approvals.review_service import ListFacts
from exchange.client import ExchangeClient


class ExchangeReviewFacts:
    def __init__(self, client: ExchangeClient) -> None:
        self._client = client

    async def list_facts(self, group: ListRef) -> ListFacts:
        found = await self._client.get_distribution_group(group.object_id)
        return ListFacts(
            dir_synced=found.is_dir_synced,
            depart_restriction=found.member_depart_restriction or "Open",
        )

    async def direct_members(self, group: ListRef) -> list[Person]:
        # People only: a nested group or a contact cannot be "kept" or "removed" as a person
        # here (removing a nested group is a change to the list's structure, not access).
        return [
            Person(
                object_id=r.external_directory_object_id,
                display_name=r.display_name or r.name,
                address=r.primary_smtp_address,
            )
            for r in await self._client.get_distribution_group_members(group.object_id)
            if r.recipient_type_details in PERSON_TYPES and r.external_directory_object_id
        ]


if TYPE_CHECKING:
    from approvals.review_service import ReviewListFacts

    def _conforms(client: ExchangeClient) -> ReviewListFacts:
        return ExchangeReviewFacts(client)
