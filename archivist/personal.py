"""Personal data with its spans, as redaction candidates: Dutch phone numbers, e-mail
addresses, BSNs (only those that pass the elfproef), IBANs (only with valid mod-97 check
digits), postcodes and addresses. Pure patterns and checks: no model, always available.
Names come from the models (``archivist.entities``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    kind: str  # phone | email | bsn | iban | address | postcode | name | …
    start: int
    end: int
    text: str
    confidence: float
    model: str = "patterns"


_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*"
                    r"\.[A-Za-z]{2,24}(?![\w-])")
# +31 6 12345678, 0031 70 123 4567, +31 (0)6-1234 5678, 06-12345678, 070 - 345 67 89, (070) 3456789
_PHONE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)31[\s.-]?(?:\(0\)[\s.-]?)?|\(0\d{1,3}\)[\s.-]?|0)"
    r"\d(?:[\s.-]{0,3}\d){5,9}(?![\w])")
_SERVICE = re.compile(r"(?<![\w+])0[89]0[09][\s-]?\d{4}(?:\d{3})?(?!\w)")
_NINE = re.compile(r"(?<![\w.,-])\d{4}\.?\d{2}\.?\d{3}(?![\w]|[.,]\d)|(?<![\w.,-])\d{3}[ .]\d{3}[ .]\d{3}(?![\w]|[.,]\d)|(?<![\w.,-])\d{9}(?![\w]|[.,]\d)")
_BSN_CONTEXT = re.compile(r"\b(?:bsn|burgerservicenummer|sofi-?nummer|citizen service number)\b",
                          re.IGNORECASE)
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}[ ]?(?:[A-Z0-9]{4}[ ]?){2,7}[A-Z0-9]{1,4}"
                   r"(?![A-Za-z0-9])")
_POSTCODE = re.compile(r"(?<![\w])[1-9]\d{3}[ ]?(?!SA|SD|SS)[A-Z]{2}(?![\w])")
_STREET_SUFFIX = (r"(?:straat|weg|laan|plein|gracht|kade|singel|dijk|hof|markt|pad|dreef|steeg|"
                  r"park|plantsoen|baan|straatweg|wal|burgwal|haven|veld|poort|boulevard|"
                  r"zijde|kwartier|erf)")
_ADDRESS = re.compile(
    r"(?<![\w])(?:[A-Z][a-zà-ÿ'.]+[ -]){0,3}[A-Z]?[a-zà-ÿ'.]*" + _STREET_SUFFIX +
    r"\s+\d{1,5}(?:\s?[a-zA-Z](?![\w]))?(?:[-/]\d{1,4}[a-zA-Z]?)?"
    r"(?:,?\s+[1-9]\d{3}[ ]?[A-Z]{2}(?:\s+(?:[A-Z][a-zà-ÿ'-]+)(?:\s[A-Z][a-zà-ÿ'-]+)?)?)?")
_CITY_AFTER = re.compile(r"\s+(?:'s-)?(?:[A-Z][a-zà-ÿ'-]+)(?:\s(?:[A-Z][a-zà-ÿ'-]+|aan\s(?:de|den)"
                         r"\s[A-Z][a-zà-ÿ'-]+))?")


_WORD = re.compile(r"([A-Za-zà-ÿ]+)[:\s]+")
_NOT_STREET = {"adres", "bezoekadres", "postadres", "woonadres", "address", "op", "in", "aan",
               "naar", "van", "de", "het", "at", "te", "bij", "via"}


def elfproef(digits: str) -> bool:
    """The BSN eleven test: 9·d1 + 8·d2 + … + 2·d8 − 1·d9 divisible by 11 (and not 0)."""
    if len(digits) != 9 or not digits.isdigit() or digits == "000000000":
        return False
    total = sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True))
    return (total - int(digits[8])) % 11 == 0


def iban_valid(value: str) -> bool:
    """ISO 13616 check digits: the rearranged number, letters as 10–35, is 1 modulo 97."""
    s = value.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", s):
        return False
    if s.startswith("NL") and len(s) != 18:
        return False
    moved = s[4:] + s[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


def _phone_ok(text: str) -> bool:
    digits = re.sub(r"\D", "", text.replace("(0)", ""))
    if digits.startswith("0031"):
        digits = "0" + digits[4:]
    elif digits.startswith("31") and text.lstrip().startswith("+"):
        digits = "0" + digits[2:]
    return len(digits) == 10 and digits[0] == "0" and digits[1] != "0"


def find(text: str) -> list[Span]:
    """Every personal data span the patterns find, sorted by position."""
    if not text:
        return []
    spans: list[Span] = list(_emails(text))
    taken = [(s.start, s.end) for s in spans]
    for s in (*_ibans(text), *_phones(text), *_bsns(text), *_addresses(text)):
        if not any(a < s.end and s.start < b for a, b in taken):
            spans.append(s)
            taken.append((s.start, s.end))
    return sorted(spans, key=lambda s: (s.start, s.end))


def _emails(text: str) -> Iterator[Span]:
    for m in _EMAIL.finditer(text):
        yield Span("email", m.start(), m.end(), m.group(), 0.98)


def _phones(text: str) -> Iterator[Span]:
    for m in _PHONE.finditer(text):
        value = m.group().rstrip(" .-")
        if _phone_ok(value):
            yield Span("phone", m.start(), m.start() + len(value), value, 0.9)
    for m in _SERVICE.finditer(text):
        yield Span("phone", m.start(), m.end(), m.group(), 0.7)


def _bsns(text: str) -> Iterator[Span]:
    for m in _NINE.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if elfproef(digits):
            near = text[max(0, m.start() - 60): m.start()]
            conf = 0.97 if _BSN_CONTEXT.search(near) else 0.75
            yield Span("bsn", m.start(), m.end(), m.group(), conf)


def _ibans(text: str) -> Iterator[Span]:
    for m in _IBAN.finditer(text):
        value = m.group().rstrip()
        if iban_valid(value):
            yield Span("iban", m.start(), m.start() + len(value), value, 0.97)


def _addresses(text: str) -> Iterator[Span]:
    covered: list[tuple[int, int]] = []
    for m in _ADDRESS.finditer(text):
        start = m.start()
        # a street name starts with a capital (keep "Turfmarkt", not "aan de Turfmarkt")
        while start < m.end() and not text[start].isupper():
            start += 1
        first = _WORD.match(text, start)
        if first and first.group(1).lower() in _NOT_STREET:
            start = first.end()
        if start >= m.end():
            continue
        covered.append((start, m.end()))
        yield Span("address", start, m.end(), text[start:m.end()], 0.85)
    for m in _POSTCODE.finditer(text):
        if any(a <= m.start() < b for a, b in covered):
            continue
        end = m.end()
        city = _CITY_AFTER.match(text, end)
        if city:
            end = city.end()
        yield Span("address", m.start(), end, text[m.start():end], 0.8)
