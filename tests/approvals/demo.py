"""People and lists of the sandbox's demo tenant (exchange/sandbox/demo-tenant.json), as the
approval workflow sees them; the in-memory tests use the same ones so both read alike."""

from __future__ import annotations

from approvals.models import Approver, ListRef, Person


def person(object_id: str, name: str, address: str) -> Person:
    return Person(object_id=object_id, display_name=name, address=address)


ALEX = person("9e986098-d981-4a25-9a89-5bf689ff5e3c", "Alex Wilber", "alexw@contoso.com")
MEGAN = person("610e5c9f-cf2a-4499-b142-baecacdfc76e", "Megan Bowen", "meganb@contoso.com")
LEE = person("069165b6-f31a-45ec-9da9-6372c99dfd5d", "Lee Gu", "leeg@contoso.com")
ADELE = person("e2e05ef4-6ef8-4057-8534-6fd142ebda0b", "Adele Vance", "adelev@contoso.com")
GRADY = person("9a1de644-815e-46d1-bb8f-aa1837f8a88b", "Grady Archie", "gradya@contoso.com")
JOHN = person("bdd640fb-0667-4ad1-9c80-317fa3b1799d", "John Doe", "jdoe@contoso.com")
ANNA = person("23b8c1e9-3924-46de-beb1-3b9046685257", "Anna Smith", "anna.smith@contoso.com")
JONI = person("371ecd7b-27cd-4130-8722-9389571aa876", "Joni Sherman", "jonis@contoso.com")
PATTI = person("494b3660-a89e-418c-9b1d-c38f998207fa", "Patti Fernandez", "pattif@contoso.com")
DIEGO = person("972a8469-1641-4f82-8b9d-2434e465e150", "Diego Siciliani", "diegos@contoso.com")


def approver(who: Person, via: str = "owner") -> Approver:
    return Approver(**who.model_dump(), via=via)


def listref(object_id: str, address: str, name: str) -> ListRef:
    return ListRef(object_id=object_id, address=address, display_name=name)


FINANCE_EMEA = listref(
    "a9488d99-0bbb-4599-91ce-5dd2b45ed1f0", "finance-emea@contoso.com", "Finance EMEA"
)
IT_ANNOUNCEMENTS = listref(
    "29a3b2e9-5d65-4441-9588-42dea2bc372f", "it-announcements@contoso.com", "IT Announcements"
)
IT_ADMINS_ID = "7412b293-4729-4739-a14f-f3d719db3ad0"
FORMER_INTERNS = listref(
    "ab9099a4-35a2-40ae-9af3-05535ec42e08", "former-interns@contoso.com", "Former Interns"
)
PROJECT_ATLAS = listref(
    "aefcfad8-efc8-4849-b3aa-7efe4458a885", "project-atlas@contoso.com", "Project Atlas"
)
SALES_TEAM = listref("0e51f30d-c6a7-4e39-84b0-32ccd7c524a5", "sales-team@contoso.com", "Sales Team")
ONPREM_ENGINEERING = listref(
    "a28defe3-9bf0-4273-9247-6f57a5e5a5ab",
    "onprem-engineering@contoso.com",
    "Engineering (on-premises)",
)
MISSING_LIST = listref("00000000-0000-4000-8000-000000000000", "gone@contoso.com", "Gone")
