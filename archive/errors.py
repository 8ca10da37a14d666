"""One root error for the whole project, in the manner of bagit-python.

``BewaarError`` is what a caller catches. ``ValidationError`` carries every finding, so a
verifier reports all problems at once instead of stopping at the first one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


class BewaarError(Exception):
    """Root of every error Bewaarplaats raises on purpose.

    The message may be a template with named ``%(name)s`` / ``%(name)r`` parameters given as
    keywords: ``NotFoundError("no site named %(name)r", name=name)``. ``str()`` is the English
    text, filled in; ``template`` and ``params`` let a face show it in another language
    (bewaar/web/i18n.py). A parameter that is a :class:`Word` is translated too."""

    def __init__(self, message: Any = "", *args: Any, **params: Any) -> None:
        text = str(message)
        super().__init__(text % params if params else text, *args)
        self.template = text
        self.params = params


class Word(str):
    """A word a message embeds that a face translates with it: a state, a decision, a step
    (``state=Word(dl.state)``); other parameters (names, numbers, paths) are shown as given."""


class SettingsError(BewaarError):
    """A setting is missing or has a value that cannot work."""


class NotFoundError(BewaarError):
    """A site, run, source or package that was asked for does not exist."""


class StorageError(BewaarError):
    """The storage backend could not read or write."""


@dataclass(frozen=True)
class Finding:
    """One thing wrong with an archive: where, what, what was expected, what was found."""

    path: str
    problem: str
    expected: str | None = None
    found: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def __str__(self) -> str:
        text = f"{self.path}: {self.problem}"
        if self.expected is not None or self.found is not None:
            text += f" (expected {self.expected!s}, found {self.found!s})"
        return text


class ValidationError(BewaarError):
    """An archive did not verify; ``findings`` lists every problem found."""

    def __init__(self, message: str, findings: list[Finding] | None = None,
                 **params: Any) -> None:
        super().__init__(message, **params)
        self.findings: list[Finding] = list(findings or [])

    def __str__(self) -> str:
        head = super().__str__()
        if not self.findings:
            return head
        return head + "\n" + "\n".join(f"  - {f}" for f in self.findings)
