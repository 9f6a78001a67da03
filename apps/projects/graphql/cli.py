"""The operations of Rasa Pro's `rasa studio` CLI (reference section 4.5)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from apps.projects.graphql.context import signed_in_user


@strawberry.type
class LicenseDetails:
    valid: bool
    scopes: list[str]


@strawberry.type
class Query:
    @strawberry.field(name="licenseDetails")
    def license_details(self, info: Info) -> LicenseDetails:
        """The CLI's sign-in probe: any signed-in user gets an answer (Studio needs no
        licence)."""
        signed_in_user(info)
        return LicenseDetails(valid=True, scopes=[])
