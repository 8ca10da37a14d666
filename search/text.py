"""Words: diacritics folded, Dutch stems, and the text of HTML pages and PDFs.

Tokens are runs of letters and digits (Unicode categories L and N), as SQLite's ``unicode61``
tokenizer splits them. Stems come from PyStemmer's ``dutch_porter``: the Snowball algorithm
PostgreSQL's ``dutch`` configuration uses, so both backends agree on what a word's stem is.
Diacritics are folded before stemming (``ideeën`` → ``ideeen``) here, on both backends, so
PostgreSQL needs no ``unaccent`` extension.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

WORD = re.compile(r"[^\W_]+")
MAX_TEXT = 2_000_000  # characters of one document that are indexed
MAX_PDF_PAGES = 2000


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer  # type: ignore[import-not-found,unused-ignore]

    return Stemmer.Stemmer("dutch_porter", 100_000)  # with its own cache of stems


def fold(word: str) -> str:
    """Lower case, diacritics removed: ``Ideeën`` → ``ideeen``."""
    word = word.lower()
    if word.isascii():
        return word
    return "".join(c for c in unicodedata.normalize("NFKD", word)
                   if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The folded words of ``text``."""
    return [fold(w) for w in WORD.findall(text)]


def stem(word: str) -> str:
    """The Dutch stem of one (folded) word."""
    return str(_stemmer().stemWord(word))


def stems(text: str) -> str:
    """The stems of ``text``'s words, separated by spaces, in the text's order."""
    found = WORD.findall(text.lower())
    if not text.isascii():
        found = [w if w.isascii() else fold(w) for w in found]
    return " ".join(_stemmer().stemWords(found))


def spans(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, folded word) of each word of ``text``."""
    for m in WORD.finditer(text):
        yield m.start(), m.end(), fold(m.group())


def squeeze(text: str) -> str:
    """Runs of white space as one space (line breaks kept as one)."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)[:MAX_TEXT]


def html_text(body: bytes) -> tuple[str, str]:
    """(title, text) of an HTML page; scripts, styles and templates left out."""
    import lxml.html
    from lxml import etree

    try:
        doc = lxml.html.document_fromstring(body)
    except (etree.ParserError, ValueError):
        return "", ""
    title = " ".join((doc.findtext(".//title") or "").split())
    for el in doc.xpath("//script|//style|//noscript|//template|//head"):
        el.drop_tree()
    for br in doc.iter("br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"):
        br.tail = "\n" + (br.tail or "")
    return title, squeeze(doc.text_content())


def pdf_text(body: bytes) -> tuple[str, str]:
    """(title, text) of a PDF (pypdf); ("", "") when it cannot be read."""
    import io
    import logging

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # a damaged file is not our log's news
    try:
        reader = PdfReader(io.BytesIO(body))
        meta = reader.metadata
        title = str(meta.title or "") if meta is not None else ""
        parts, size = [], 0
        for page in reader.pages[:MAX_PDF_PAGES]:
            part = page.extract_text() or ""
            parts.append(part)
            size += len(part)
            if size > MAX_TEXT:
                break
        return " ".join(title.split()), squeeze("\n".join(parts))
    except Exception:  # noqa: BLE001 - files from outside: an unreadable PDF has no text
        return "", ""
