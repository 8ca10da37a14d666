"""Retention arithmetic: a package's trigger date, end date (``termijnEinddatum``) and state.

The rules (one place, used by the MDTO writer, the package build and the records service):

- **The trigger date.** A selectielijst category names its trigger in its own words
  ("Vastlegging website", "Verzending", "Archivering"). A trigger that names the act of
  archiving itself (archivering, opname, verzegeling, aanmaak, ontvangst) starts on the day the
  package was made. Every other trigger names an event in the content (a capture, a message
  sent): it starts on the last day of the period the package covers (the end of the crawl, the
  newest message), so the term never ends before that of the newest item in the package. A
  package that names no period starts on the day it was made.
- **V** (vernietigen): the end date is the trigger date plus the bewaartermijn (an ISO 8601
  duration; ``P0D`` ends on the trigger date itself). The package is ``due`` on and after it.
- **B** (blijvend): no end date. When the category gives a bewaartermijn it is read as the term
  after which the package is to be transferred (``transfer-due``), else it is ``keep``.
- No category: waardering N (nader te bepalen), ``keep``.
- A package under a hold is ``held`` whatever its dates; ``destroyed`` and ``transferred``
  (the package's disposition) end its life cycle and win over everything.
"""

from __future__ import annotations

from datetime import date, datetime

from archive.package.selectielijst import add_duration

STATES = ("keep", "due", "held", "transfer-due", "destroyed", "transferred")
DISPOSITIONS = ("destroyed", "transferred")
# Words of a trigger that names the act of archiving, not an event in the content.
_CREATION_WORDS = ("archiver", "opname", "opgenomen", "verzegel", "aanmaak", "ontvang")


def starts_at_creation(trigger: str | None) -> bool:
    text = (trigger or "").lower()
    return any(w in text for w in _CREATION_WORDS)


def trigger_date(trigger: str | None, period: tuple[datetime, datetime] | None,
                 created: datetime) -> date:
    """The day a package's term starts (see the module docstring); dates are UTC days."""
    if period is not None and not starts_at_creation(trigger):
        return period[1].date()
    return created.date()


def end_dates(waardering: str, bewaartermijn: str | None,
              start: date) -> tuple[date | None, date | None]:
    """``(end date, transfer date)``: the first for V, the second for B with a term."""
    if not bewaartermijn:
        return None, None
    when = add_duration(start, bewaartermijn)
    if waardering == "V":
        return when, None
    if waardering == "B":
        return None, when
    return None, None


def state(*, waardering: str, end_date: date | None, transfer_date: date | None,
          held: bool, as_of: date, disposition: str | None = None) -> str:
    """One of ``STATES`` for a package on day ``as_of``."""
    if disposition in DISPOSITIONS:
        return disposition
    if held:
        return "held"
    if waardering == "V" and end_date is not None and end_date <= as_of:
        return "due"
    if waardering == "B" and transfer_date is not None and transfer_date <= as_of:
        return "transfer-due"
    return "keep"
