"""Directory records for tests: the demo tenant's lists and people, and lists made to order."""

from __future__ import annotations

import json
import uuid
from functools import cache
from pathlib import Path
from typing import Any

from approvals.models import FALLBACK_VIA, Approver, Person
from approvals.testing import StaticApprovers
from skills.ports import DirectoryList, ListKind, Restriction

DEMO_TENANT = Path(__file__).resolve().parents[2] / "exchange" / "sandbox" / "demo-tenant.json"

ALEX = "9e986098-d981-4a25-9a89-5bf689ff5e3c"
MEGAN = "610e5c9f-cf2a-4499-b142-baecacdfc76e"
LEE = "069165b6-f31a-45ec-9da9-6372c99dfd5d"
HENRIETTA = "6b65a6a4-8b81-48f6-b38a-088ca65ed389"
ADELE = "e2e05ef4-6ef8-4057-8534-6fd142ebda0b"
NESTOR = "337f3ef0-df32-4e4f-bc68-618b22ee068c"
DIEGO = "972a8469-1641-4f82-8b9d-2434e465e150"
PATTI = "494b3660-a89e-418c-9b1d-c38f998207fa"
GRADY = "9a1de644-815e-46d1-bb8f-aa1837f8a88b"

_KINDS = {
    "Distribution": ListKind.DISTRIBUTION,
    "Security": ListKind.SECURITY,
    "RoomList": ListKind.ROOM,
    "Dynamic": ListKind.DYNAMIC,
}


def make_list(name: str, **fields: Any) -> DirectoryList:
    """A list named `name` (address name@contoso.com); any field may be given."""
    values: dict[str, Any] = {
        "object_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"list/{name}")),
        "name": name,
        "display_name": name,
        "alias": name,
        "address": f"{name}@contoso.com",
        "kind": ListKind.DISTRIBUTION,
        "join_restriction": Restriction.APPROVAL_REQUIRED,
        "depart_restriction": Restriction.OPEN,
    }
    values.update(fields)
    return DirectoryList(**values)


def list_from_tenant_group(group: dict[str, Any]) -> DirectoryList:
    """A tenant-file group as the directory would report it (without DN or owners' names)."""
    address = group.get("email") or f"{group['name']}@contoso.com"
    kind = _KINDS[group.get("type", "Distribution")]
    dynamic = kind is ListKind.DYNAMIC
    description = group.get("description", "")
    return DirectoryList(
        object_id=group["id"],
        name=group["name"],
        display_name=group.get("display_name", group["name"]),
        alias=group.get("alias", address.partition("@")[0]),
        address=address,
        kind=kind,
        join_restriction=Restriction.CLOSED
        if dynamic
        else Restriction(group.get("member_join_restriction", "Closed")),
        depart_restriction=Restriction.CLOSED
        if dynamic
        else Restriction(group.get("member_depart_restriction", "Open")),
        owners=tuple(group.get("managed_by", ())),
        description=description if isinstance(description, str) else "\n".join(description),
        hidden=group.get("hidden_from_address_lists", False),
        dir_synced=group.get("is_dir_synced", False),
    )


@cache
def _demo() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DEMO_TENANT.read_text(encoding="utf-8"))
    return data


def demo_lists() -> list[DirectoryList]:
    return [list_from_tenant_group(g) for g in _demo()["groups"]]


def demo_list(name: str) -> DirectoryList:
    return next(item for item in demo_lists() if item.name == name)


def demo_people() -> list[Person]:
    return [
        Person(object_id=u["id"], display_name=u["display_name"], address=u.get("email", ""))
        for u in _demo()["users"]
    ]


def demo_person(object_id: str) -> Person:
    return next(p for p in demo_people() if p.object_id == object_id)


def approver(object_id: str, via: str = "owner") -> Approver:
    return Approver(**demo_person(object_id).model_dump(), via=via)


def demo_approvers() -> StaticApprovers:
    """The demo tenant's owners as approvals would resolve them; Adele and Nestor are the
    admins' fallback approvers."""
    owned = {
        "finance-emea": (approver(MEGAN), approver(LEE)),
        "book-club": (approver(DIEGO),),
        "leadership-team": (approver(PATTI),),
        "it-admins": (approver(ADELE),),
        "it-announcements": (approver(ADELE, "owner group IT Admins"),),
        "onprem-engineering": (approver(GRADY),),
        "exec-assistants": (approver(PATTI),),
        "engineering-all": (approver(GRADY),),
    }
    return StaticApprovers(
        owners={demo_list(name).object_id: people for name, people in owned.items()},
        fallback=(approver(ADELE, FALLBACK_VIA), approver(NESTOR, FALLBACK_VIA)),
    )
