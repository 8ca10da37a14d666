"""The grounds for withholding information under the Wet open overheid (Woo), articles 5.1
and 5.2, with their short Dutch descriptions.

Codes as they are written in Woo decisions: ``5.1.1c`` is article 5.1, first paragraph
(lid 1), under c. Article 5.1 lid 1 holds the absolute grounds, lid 2 the relative ones (to
be weighed against the public interest), 5.2 the personal policy views in documents for
internal consultation. ``parse_ground`` accepts the usual ways of writing them
("5.1.2e", "5.1.2.e", "5.1 lid 2 e", "art. 5.1, tweede lid, sub e", "5.2").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from archive.errors import BewaarError


class GroundError(BewaarError):
    """A ground that is not in the Woo."""


@dataclass(frozen=True)
class Ground:
    code: str
    article: str  # how a decision cites it
    description: str
    absolute: bool  # 5.1 lid 1: no weighing of interests


_TABLE: tuple[tuple[str, str], ...] = (
    ("5.1.1a", "de eenheid van de Kroon"),
    ("5.1.1b", "de veiligheid van de Staat"),
    ("5.1.1c", "vertrouwelijk meegedeelde bedrijfs- en fabricagegegevens"),
    ("5.1.1d", "bijzondere persoonsgegevens"),
    ("5.1.1e", "nationale identificatienummers"),
    ("5.1.2a", "de betrekkingen van Nederland met andere staten en internationale "
               "organisaties"),
    ("5.1.2b", "de economische of financiële belangen van de Staat en andere "
               "publiekrechtelijke lichamen"),
    ("5.1.2c", "de opsporing en vervolging van strafbare feiten"),
    ("5.1.2d", "inspectie, controle en toezicht door bestuursorganen"),
    ("5.1.2e", "de eerbiediging van de persoonlijke levenssfeer"),
    ("5.1.2f", "de bescherming van concurrentiegevoelige bedrijfs- en fabricagegegevens"),
    ("5.1.2g", "de bescherming van het milieu waarop de informatie betrekking heeft"),
    ("5.1.2h", "de beveiliging van personen en bedrijven en het voorkomen van sabotage"),
    ("5.1.2i", "het goed functioneren van de Staat, andere publiekrechtelijke lichamen of "
               "bestuursorganen"),
    ("5.2", "persoonlijke beleidsopvattingen in documenten voor intern beraad"),
)


def _article(code: str) -> str:
    if code == "5.2":
        return "artikel 5.2 Woo"
    lid = "eerste" if code[4] == "1" else "tweede"
    return f"artikel 5.1, {lid} lid, onder {code[5]}, Woo"


GROUNDS: dict[str, Ground] = {
    code: Ground(code, _article(code), text, code.startswith("5.1.1"))
    for code, text in _TABLE
}

_FORM = re.compile(
    r"^(?:art(?:ikel)?\.?\s*)?5\s*\.\s*(?P<art>[12])"
    r"(?:\s*(?:\.|,)?\s*(?:lid\s*)?(?P<lid>[12]|eerste|tweede)(?:\s*lid)?"
    r"\s*(?:\.|,)?\s*(?:sub\s*|onder\s*)?(?P<letter>[a-i])\.?)?"
    r"(?:\s*(?:lid\s*1|eerste\s*lid))?(?:\s*woo)?$")


def parse_ground(text: str) -> Ground:
    """The ground ``text`` names; ``GroundError`` (listing the codes) when it names none."""
    raw = " ".join(str(text or "").split())
    m = _FORM.match(raw.lower())
    code = None
    if m:
        if m["art"] == "2" and not m["letter"]:
            code = "5.2"
        elif m["art"] == "1" and m["letter"] and m["lid"]:
            lid = {"eerste": "1", "tweede": "2"}.get(m["lid"], m["lid"])
            code = f"5.1.{lid}{m['letter']}"
    if code is None or code not in GROUNDS:
        raise GroundError("%(ground)r is no ground of the Woo; use one of %(known)s (see "
                          "`bewaar woo grounds`)", ground=raw, known=", ".join(GROUNDS))
    return GROUNDS[code]


def parse_grounds(texts: list[str] | tuple[str, ...]) -> list[str]:
    """The codes of ``texts``, each once, in the table's order."""
    codes = {parse_ground(t).code for t in texts}
    return [c for c in GROUNDS if c in codes]
