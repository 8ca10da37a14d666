"""The organisation a package names (bag-info, MDTO archiefvormer, the seal certificate).

It must be configured: an archive package that names the wrong ministry is worse than none, so
sealing refuses while ``organisation``/``organisation_id`` are unset. Only a local, unqualified
key set (``bewaar keys init``) and the demo may use the obviously fictitious stand-in below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from archive.errors import SettingsError
from archive.settings import Settings

FICTITIOUS_ORGANISATION = "Voorbeeldorganisatie (fictief)"
FICTITIOUS_ORGANISATION_ID = "00000000000000000000"  # 20 digits like an OIN; no OIN is all zero

_HOW = ("set BEWAAR_ORGANISATION and BEWAAR_ORGANISATION_ID, or organisation and "
        "organisation_id in bewaar.toml")
_TOOI_CODE = re.compile(r"(?:mnre|gm|pv|ws|oorg|zbo|rwt)\d{4,}")


class OrganisationNotConfiguredError(SettingsError):
    """No organisation (or no organisation id) is configured, so nothing can be sealed."""


@dataclass(frozen=True)
class Organisation:
    name: str
    identifier: str

    @property
    def id_source(self) -> str:
        """The register the identifier comes from (MDTO ``identificatieBron``)."""
        if re.fullmatch(r"\d{20}", self.identifier):
            return "OIN"
        if (self.identifier.startswith("https://identifier.overheid.nl/tooi/")
                or _TOOI_CODE.fullmatch(self.identifier)):
            return "TOOI"
        return "organisation_id (Bewaarplaats)"


def _configured(settings: Settings, field: str) -> str | None:
    value = getattr(settings, field, None)  # both default to None: nothing is assumed
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()


def configured_organisation(settings: Settings) -> Organisation | None:
    """The configured organisation, or None when either setting is missing."""
    name = _configured(settings, "organisation")
    identifier = _configured(settings, "organisation_id")
    if name is None or identifier is None:
        return None
    return Organisation(name, identifier)


def require_organisation(settings: Settings) -> Organisation:
    """The configured organisation; refuse (exit 2 in the CLI) when it is not configured."""
    org = configured_organisation(settings)
    if org is None:
        missing = [env for field, env in (("organisation", "BEWAAR_ORGANISATION"),
                                          ("organisation_id", "BEWAAR_ORGANISATION_ID"))
                   if _configured(settings, field) is None]
        raise OrganisationNotConfiguredError(
            f"no organisation is configured ({' and '.join(missing)} not set): packages name "
            f"the organisation that made them; {_HOW}"
        )
    return org


def organisation_or_fictitious(settings: Settings) -> tuple[Organisation, bool]:
    """The configured organisation, or the fictitious stand-in (True when it is the stand-in)."""
    org = configured_organisation(settings)
    if org is not None:
        return org, False
    return Organisation(FICTITIOUS_ORGANISATION, FICTITIOUS_ORGANISATION_ID), True
