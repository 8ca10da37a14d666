"""WhatsApp "Export chat": the ``.txt`` (bare, or in the ``.zip`` with media) of Android and
iOS phones in Dutch or English.

Shapes read: ``12-03-2024 14:05 - Naam: tekst`` (Android, no seconds),
``[12-03-2024 14:05:33] Naam: tekst`` (iOS, CRLF), US style ``3/12/24, 2:05 PM - …`` with
U+202F before AM/PM; U+200E marks before attachments and system lines; multi-line messages;
system lines without an author (Android) or under the chat's name with U+200E (iOS);
``<Media weggelaten>``/``<Media omitted>`` and iOS ``afbeelding weggelaten``/``image omitted``;
``NAAM (bestand bijgevoegd)``, ``<bijgevoegd: NAAM>``, ``<attached: NAAM>`` with the file in
the zip; deleted and edited markers; senders known by phone number only (the U+202A/U+202C
around the number are dropped); text that itself holds " - " and ": ".

Time: the file has no time zone. Phone time is turned into UTC with the source's declared zone
(DST included: in the repeated hour of October the earlier reading is taken unless the message
order says the later). The evidence says the zone was declared, not read.

Day/month order: read from the file when a date has a first or second number above 12; else
from the declared locale (nl: day first; en: day first with a 24-hour clock, month first with
AM/PM); else guessed (the order under which the dates run forward, then the separator), and
reported as guessed.

Message identity: WhatsApp exports have no message ids. The key is
``whatsapp:<sha256 of local time as written, sender and text>:<n>``, n counting the identical
messages before it in the file. Exports of one chat start at its beginning (or where WhatsApp
cuts long chats, never inside one minute's identical messages in practice), so a message keeps
its key in every later, overlapping export. An edited or deleted message is a different text:
it is archived again, marked edited or deleted, beside the version archived before.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chat_archiver.exports import whatsapp_text as wt
from chat_archiver.exports.base import (
    Chat,
    ExportEncodingError,
    ExportReader,
    Message,
    NotAnExportError,
    ParsedExport,
    ReadOptions,
    UnknownLocaleError,
)
from chat_archiver.exports.files import Bundle, Member


@dataclass
class _Stamp:
    line: int
    m: re.Match[str]
    rest: str
    more: list[str]


def decode_text(data: bytes, label: str, app: str) -> str:
    """UTF-8 (with or without BOM) or UTF-16 with a BOM; anything else is a clear error."""
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise ExportEncodingError(label, "starts like UTF-16 but is not valid UTF-16") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        rough = data[:65536].decode("utf-8", errors="replace")
        controls = sum(1 for ch in rough if ord(ch) < 32 and ch not in "\t\r\n")
        if rough.count("\ufffd") > len(rough) / 20 or controls > len(rough) / 100:
            raise NotAnExportError(label, "is binary data, not a %(app)s text export",
                                   app=app) from None
        line = data[:exc.start].count(b"\n") + 1
        raise ExportEncodingError(
            label, "is not UTF-8 (byte 0x%(byte)s on line %(line)s); %(app)s writes UTF-8: was "
                   "the file re-saved in another encoding, such as Windows-1252?",
            byte=f"{data[exc.start]:02x}", line=line, app=app) from None
    if "\0" in text[:65536]:
        raise NotAnExportError(label, "is binary data, not a %(app)s text export", app=app)
    return text


def _stamps(text: str, label: str) -> tuple[str, list[_Stamp], list[dict[str, Any]], int]:
    lines = re.split(r"\r\n|\n|\r", text)
    if lines and lines[-1] == "":
        lines.pop()
    android = ios = 0
    for raw in lines[:2000]:
        line = raw.lstrip(wt.MARKS)
        android += bool(wt.ANDROID.match(line))
        ios += bool(wt.IOS.match(line))
    if not android and not ios:
        for raw in lines:
            line = raw.lstrip(wt.MARKS)
            android += bool(wt.ANDROID.match(line))
            ios += bool(wt.IOS.match(line))
            if android or ios:
                break
    if not android and not ios:
        raise NotAnExportError(label, "has no line with a WhatsApp date stamp: not a WhatsApp "
                               "chat export (a Telegram, Teams or Signal file is added as a "
                               "source of that kind)")
    platform, pattern = ("ios", wt.IOS) if ios > android else ("android", wt.ANDROID)
    stamps: list[_Stamp] = []
    unparsed: list[dict[str, Any]] = []
    for n, raw in enumerate(lines, start=1):
        m = pattern.match(raw.lstrip(wt.MARKS))
        if m:
            stamps.append(_Stamp(n, m, m["rest"], []))
        elif stamps:
            stamps[-1].more.append(raw)
        elif raw.strip(wt.MARKS + " \t"):
            unparsed.append({"file": label, "line": n, "text": raw[:500],
                             "problem": "before the first message"})
    return platform, stamps, unparsed, len(lines)


def _language(text: str, label: str, declared: str) -> tuple[str, str]:
    counts = {lang: sum(text.count(word) for word in words)
              for lang, words in wt.SIGNALS.items()}
    foreign = len(wt.FOREIGN.findall(text))
    known = counts["nl"] + counts["en"]
    if foreign and foreign >= known:
        raise UnknownLocaleError(label, "is an export of a phone in a language this reader "
                                 "does not know (only Dutch and English exports are read)")
    if declared in ("nl", "en"):
        return declared, "declared for the source"
    if known:
        lang = "nl" if counts["nl"] >= counts["en"] else "en"
        return lang, f"detected from the markers in the file ({counts[lang]} found)"
    return "", "no markers found"


def _date_order(stamps: list[_Stamp], label: str, lang: str, declared: str,
                twelve_hour: bool) -> tuple[bool, str, str]:
    """(day first?, how known, detail)."""
    pairs = [(int(s.m["d1"]), int(s.m["d2"])) for s in stamps]
    day_first_ok = all(1 <= a <= 31 and 1 <= b <= 12 for a, b in pairs)
    month_first_ok = all(1 <= a <= 12 and 1 <= b <= 31 for a, b in pairs)
    if not day_first_ok and not month_first_ok:
        bad = next(s for s in stamps if int(s.m["d1"]) > 12 and int(s.m["d2"]) > 12
                   or not (1 <= int(s.m["d1"]) <= 31 and 1 <= int(s.m["d2"]) <= 31)) \
            if any(a > 12 and b > 12 for a, b in pairs) else stamps[0]
        raise NotAnExportError(label, "line %(line)s: the dates fit neither day-month nor "
                               "month-day order", line=bad.line)
    if day_first_ok != month_first_ok:
        day_first = day_first_ok
        witness = next(s for s in stamps if int(s.m["d1" if day_first else "d2"]) > 12)
        if declared == "nl" and not day_first:
            raise UnknownLocaleError(label, "line %(line)s: month-first dates, but the "
                                     "source is declared Dutch (day first)",
                                     line=witness.line)
        return day_first, "read from the file", f"line {witness.line} has day " \
            f"{witness.m['d1' if day_first else 'd2']}"
    if declared in ("nl", "en"):
        day_first = declared == "nl" or not twelve_hour
        return day_first, "from the declared locale", f"{declared}, " \
            f"{'12' if twelve_hour else '24'}-hour clock"
    back = {True: 0, False: 0}
    for day_first in (True, False):
        prev = None
        for s in stamps:
            a, b = int(s.m["d1"]), int(s.m["d2"])
            key = (int(s.m["y"]), b, a) if day_first else (int(s.m["y"]), a, b)
            if prev is not None and key < prev:
                back[day_first] += 1
            prev = key
    if back[True] != back[False]:
        day_first = back[True] < back[False]
        return day_first, "guessed", "the dates run forward in this order"
    day_first = not twelve_hour  # AM/PM: US style, month first
    return day_first, "guessed", f"no date tells; from the {'12' if twelve_hour else '24'}" \
        "-hour clock"


def _naive(s: _Stamp, day_first: bool) -> datetime:
    m = s.m
    a, b = int(m["d1"]), int(m["d2"])
    day, month = (a, b) if day_first else (b, a)
    year = int(m["y"])
    year += 2000 if year < 100 else 0
    hour = int(m["h"])
    ap = (m["ap"] or "").lower().replace(".", "").replace(" ", "").replace("\u202f", "") \
        .replace("\u00a0", "")
    if ap:
        if not 1 <= hour <= 12:
            raise ValueError("hour out of range for AM/PM")
        hour = hour % 12 + (12 if ap == "pm" else 0)
    return datetime(year, month, day, hour, int(m["mi"]), int(m["s"] or 0))


_EPOCH_DAY = datetime(1970, 1, 1).toordinal()


class _Clock:
    """Phone time to UTC ms, DST included; counts what could not be told exactly."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self.prev: int | None = None
        self.ambiguous = 0
        self.later_reading = 0
        self.nonexistent: list[int] = []
        # (ordinal day, hour) -> the zone's offset in ms throughout that local hour, or None
        # when it changes in it (a DST hour): most times are then one subtraction instead of
        # four zone lookups. Constant means: the same offset for both readings (fold 0 and 1)
        # at the hour's first and last second; only two changes within one hour, which no
        # zone has, could hide from that.
        self.hours: dict[tuple[int, int], int | None] = {}

    def _hour_offset(self, naive: datetime) -> int | None:
        start = naive.replace(minute=0, second=0, microsecond=0)
        offsets = {t.replace(tzinfo=self.tz, fold=fold).utcoffset()
                   for t in (start, start.replace(minute=59, second=59)) for fold in (0, 1)}
        if len(offsets) != 1:
            return None
        only = offsets.pop()
        return None if only is None else only // timedelta(milliseconds=1)

    def utc_ms(self, naive: datetime, line: int) -> int:
        day = naive.toordinal()
        key = (day, naive.hour)
        if key in self.hours:
            offset = self.hours[key]
        else:
            offset = self.hours[key] = self._hour_offset(naive)
        if offset is not None:
            e = ((day - _EPOCH_DAY) * 86400 + naive.hour * 3600 + naive.minute * 60
                 + naive.second) * 1000 - offset
            self.prev = e
            return e
        early = naive.replace(tzinfo=self.tz, fold=0)
        late = naive.replace(tzinfo=self.tz, fold=1)
        e, la = int(early.timestamp() * 1000), int(late.timestamp() * 1000)
        if e != la:
            if early.utcoffset() == late.utcoffset():
                pass
            elif (datetime.fromtimestamp(e / 1000, self.tz).replace(tzinfo=None) != naive):
                self.nonexistent.append(line)  # a time skipped when the clocks went forward
            else:
                self.ambiguous += 1
                if self.prev is not None and e < self.prev <= la:
                    self.later_reading += 1
                    e = la
        self.prev = e
        return e


class WhatsAppReader(ExportReader):
    kind = "whatsapp"
    parser = "bewaarplaats-whatsapp"
    version = "1"

    def read(self, bundle: Bundle, options: ReadOptions) -> ParsedExport:
        try:
            tz = ZoneInfo(options.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise NotAnExportError(options.timezone, "is not a known time zone") from None
        docs = _documents(bundle)
        self.files: dict[str, Any] = {}
        chats: dict[str, Chat] = {}
        files_ev, unparsed, warnings = [], [], []
        for doc in docs:
            label = doc.name if doc.name == doc.origin else f"{doc.origin}:{doc.name}"
            text = decode_text(doc.path.read_bytes(), label, "WhatsApp")
            chat_name = _chat_name(doc)
            room_id = "whatsapp:" + (chat_name or "chat")
            chat = chats.setdefault(room_id, Chat(room_id, chat_name))
            ev, bad, warn = self._read_doc(text, label, doc, bundle, options, tz, chat)
            files_ev.append(ev)
            unparsed += bad
            warnings += warn
        evidence = {"format": "whatsapp-txt", "parser": self.parser, "parser_version": self.version,
                    "documents": files_ev,
                    "timezone": {"name": options.timezone, "origin": options.timezone_origin,
                                 "note": "WhatsApp exports carry no time zone: phone time was "
                                         "turned into UTC with this declared zone"}}
        return ParsedExport(list(chats.values()), evidence, unparsed, warnings, self.files)

    def _read_doc(self, text: str, label: str, doc: Member, bundle: Bundle,
                  options: ReadOptions, tz: ZoneInfo,
                  chat: Chat) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
        platform, stamps, unparsed, lines_read = _stamps(text, label)
        lang, lang_origin = _language(text, label, options.locale)
        if not lang and any(s.m["sep"] == "." for s in stamps[:50]):
            raise UnknownLocaleError(label, "dates like 12.03.24 and no Dutch or English "
                                     "markers: an export of a phone in another language")
        twelve = sum(bool(s.m["ap"]) for s in stamps) > len(stamps) / 2
        day_first, order_origin, order_detail = _date_order(stamps, label, lang,
                                                            options.locale, twelve)
        langs = [lang] if lang else ["nl", "en"]
        langs += [x for x in ("nl", "en") if x not in langs]  # markers of both are known
        clock = _Clock(tz)
        # A name is a sender once one of its lines is not a system line. The system patterns
        # (alternatives like ".+ heeft .+ toegevoegd", which backtrack over the whole line) are
        # tried on a name's lines only until then, not on every line of the file.
        senders: set[str] = set()
        for s in stamps:
            name, sep, _ = s.rest.partition(": ")
            if sep and name not in senders and not any(
                    wt.SYSTEM[x].fullmatch(wt.clean(s.rest)) for x in langs):
                senders.add(name)
        seen: Counter[str] = Counter()
        counts: Counter[str] = Counter()
        out_of_order: list[dict[str, Any]] = []
        att_missing: list[str] = []
        last_ms: int | None = None
        files = self.files
        last_stamp: tuple[Any, ...] = ()
        local_time: tuple[datetime, str] | ValueError = ValueError()
        for s in stamps:
            # messages come a few to a minute: the previous line's time is reused
            stamp = s.m.group("d1", "d2", "y", "h", "mi", "s", "ap")
            if stamp != last_stamp:
                last_stamp = stamp
                try:
                    naive = _naive(s, day_first)
                    local_time = (naive, naive.isoformat())
                except ValueError as exc:
                    local_time = exc
            if isinstance(local_time, ValueError):
                unparsed.append({"file": label, "line": s.line, "text": s.m.group(0)[:500],
                                 "problem": f"date or time not valid: {local_time}"})
                continue
            naive, local = local_time
            ms = clock.utc_ms(naive, s.line)
            msg = self._message(s, platform, langs, senders)
            ident = "\x1f".join([local, msg.sender, msg.text, msg.attachment or ""])
            digest = hashlib.sha256(ident.encode("utf-8")).hexdigest()[:40]
            msg.key = f"whatsapp:{digest}:{seen[digest]}"
            seen[digest] += 1
            msg.ts_ms, msg.local_time, msg.file, msg.line = ms, local, label, s.line
            if last_ms is not None and ms < last_ms:
                out_of_order.append({"line": s.line, "local_time": local})
            last_ms = ms if last_ms is None else max(last_ms, ms)
            counts["system" if msg.system else "messages"] += 1
            if msg.attachment and not msg.media_omitted:
                counts["attachments_referenced"] += 1
                found = bundle.find(msg.attachment, near=doc)
                if found is None:
                    att_missing.append(msg.attachment)
                else:
                    counts["attachments_present"] += 1
                    msg.attachment_ref = f"export:{found.origin}/{found.name}"
                    files[msg.attachment_ref] = found.path
            if msg.media_omitted:
                counts["attachments_omitted"] += 1
            if msg.edited:
                counts["edited"] += 1
            if msg.deleted:
                counts["deleted"] += 1
            chat.messages.append(msg)
        warnings = []
        with_media = counts["attachments_referenced"] > 0
        limit = wt.CUT_WITH_MEDIA if with_media else wt.CUT_WITHOUT_MEDIA
        total = counts["messages"] + counts["system"]
        if total >= limit * 0.95:
            warnings.append(f"{label}: {total} messages, close to the {limit:,} WhatsApp keeps in "
                            f"an export {'with' if with_media else 'without'} media: the oldest "
                            "messages may have been cut silently; export in parts or without "
                            "media to be sure")
        if clock.nonexistent:
            warnings.append(f"{label}: {len(clock.nonexistent)} times fall in the hour skipped "
                            f"when the clocks went forward in {options.timezone} (lines "
                            f"{clock.nonexistent[:10]}): is the declared time zone right?")
        if order_origin == "guessed":
            warnings.append(f"{label}: day/month order guessed ({order_detail}); declare the "
                            "locale of the source to be sure")
        if out_of_order:
            warnings.append(f"{label}: {len(out_of_order)} messages are earlier than one before "
                            "them")
        ev = {
            "file": label, "platform": platform, "chat": chat.name,
            "locale": {"value": lang or None, "origin": lang_origin},
            "date_order": {"value": "day-month" if day_first else "month-day",
                           "origin": order_origin, "detail": order_detail},
            "clock": "12-hour" if twelve else "24-hour",
            "counts": {"lines_read": lines_read, "messages": counts["messages"],
                       "system_messages": counts["system"], "unparsed": len(unparsed),
                       "edited": counts["edited"], "deleted": counts["deleted"]},
            "attachments": {"referenced": counts["attachments_referenced"],
                            "present": counts["attachments_present"],
                            "omitted": counts["attachments_omitted"],
                            "missing": att_missing},
            "dst": {"ambiguous_times": clock.ambiguous,
                    "read_as_the_later_hour": clock.later_reading,
                    "nonexistent_time_lines": clock.nonexistent},
            "out_of_order": {"count": len(out_of_order), "first": out_of_order[:50]},
        }
        return ev, unparsed, warnings

    def _message(self, s: _Stamp, platform: str, langs: list[str],
                 senders: set[str]) -> Message:
        rest = s.rest
        more = s.more
        name, sep, body = rest.partition(": ")
        whole = wt.clean(rest)
        if platform == "android":
            is_system = not sep or (name not in senders
                                    and any(wt.SYSTEM[x].fullmatch(whole) for x in langs))
        else:
            is_system = sep != "" and body.startswith("\u200e") and not _is_marker(body, langs)
            is_system = is_system or (sep != "" and name not in senders and any(
                wt.SYSTEM[x].fullmatch(wt.clean(body)) for x in langs))
            if not sep:
                is_system = True
        if is_system:
            text = "\n".join([whole if platform == "android" or not sep else wt.clean(body),
                              *more])
            actor = wt.clean(name) if platform == "ios" and sep else ""
            return Message("", 0, actor, text=text, system=True)
        sender = wt.clean(name)
        first = body.lstrip(wt.MARKS)
        text = "\n".join([first, *more])
        msg = Message("", 0, sender, text=text)
        if text.endswith(">"):
            for lang in langs:
                m = wt.EDITED[lang].search(text)
                if m:
                    msg.edited = True
                    text = text[:m.start()]
                    msg.text = text
                    break
        stripped = wt.clean(first)
        if not wt.MAYBE_MARKER.search(stripped[:300]):
            return msg
        for lang in langs:
            if wt.DELETED[lang].fullmatch(wt.clean(text)):
                msg.deleted = True
                return msg
            if wt.OMITTED[lang].fullmatch(stripped):
                msg.media_omitted = True
                word = stripped.split(" ")[-2] if " " in stripped else ""
                msg.msgtype = wt.OMITTED_TYPE.get(word, "m.file")
                return msg
            m = wt.ATTACHED[lang].fullmatch(stripped)
            if m:
                att = wt.clean(m["a"] or m["b"] or "")
                msg.attachment = att
                msg.msgtype = wt.media_type(att)
                msg.extra["caption"] = "\n".join(more) if more else None
                return msg
        return msg


def _is_marker(body: str, langs: list[str]) -> bool:
    t = wt.clean(body)
    return any(wt.OMITTED[x].fullmatch(t) or wt.ATTACHED[x].fullmatch(t)
               or wt.DELETED[x].fullmatch(t) or t.endswith(wt.EDIT_SIGNALS[x]) for x in langs)


def _documents(bundle: Bundle) -> list[Member]:
    """The chat text of each original: ``_chat.txt`` or ``WhatsApp Chat … .txt``, or a zip's
    only ``.txt``."""
    docs = []
    for orig in bundle.originals:
        members = [m for m in bundle.members if m.origin == orig.name]
        if len(members) == 1 and members[0].name == orig.name:
            docs.append(members[0])
            continue
        texts = [m for m in members if m.name.lower().endswith(".txt")]
        named = [m for m in texts if PurePosixPath(m.name).name == "_chat.txt"
                 or PurePosixPath(m.name).name.lower().startswith("whatsapp")]
        chosen = named or (texts if len(texts) == 1 else [])
        if not chosen:
            raise NotAnExportError(orig.name, "holds no WhatsApp chat (_chat.txt or "
                                   "'WhatsApp Chat … .txt')")
        docs.extend(chosen)
    return docs


def _chat_name(doc: Member) -> str | None:
    for name in (PurePosixPath(doc.name).stem, PurePosixPath(doc.origin).stem):
        m = wt.CHAT_NAME.match(name)
        if m:
            return wt.clean(m["name"])
    return None
