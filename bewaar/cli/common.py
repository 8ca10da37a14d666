"""What every command shares: the settings (loaded once), consoles, JSON output, exit codes."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

from archive.errors import SettingsError
from archive.settings import ENV_PREFIX, Settings, load_settings

# soft_wrap: a printed line is never wrapped or cut at the console's width (80 columns when
# piped), so ids and paths come out whole; tables fold other columns first (bewaar.cli.tables).
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

# Exit codes used across commands.
EXIT_OK = 0
EXIT_FINDINGS = 1  # the command ran and found problems (invalid package, failed QA, …)
EXIT_UNUSABLE = 2  # the command could not run (bad input, missing run, bad setting)

# Secret variables whose NAME an option gives by default (``bewaar user add --password-env``).
SECRET_VARIABLES = ("BEWAAR_NEW_PASSWORD",)
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"

_settings: Settings | None = None
_named_secrets: tuple[str, ...] = SECRET_VARIABLES


def settings() -> Settings:
    """The settings for this process, loaded on first use."""
    global _settings
    if _settings is None:
        _settings = load_settings(named_secrets=_named_secrets)
    return _settings


def start(args: list[str]) -> None:
    """Before any command runs: load the settings (a bad variable, a bad ``bewaar.toml`` or an
    unknown ``BEWAAR_*`` variable stops every command, exit 2, in one line) and configure
    logging at ``log_level``. ``BEWAAR_*`` names given as arguments (``--password-env
    BEWAAR_X``) are secrets' variables, not misspelt settings."""
    global _named_secrets
    named = [w.rpartition("=")[2] for w in args if ENV_PREFIX in w.upper()]
    _named_secrets = (*SECRET_VARIABLES, *named)
    reset_settings()
    try:
        level = settings().log_level
    except SettingsError as exc:
        print_error(str(exc))
        raise SystemExit(EXIT_UNUSABLE) from None
    logging.basicConfig(level=level, format=LOG_FORMAT)


def reset_settings() -> None:
    global _settings
    _settings = None


def _json_value(value: Any) -> Any:
    """Times as ISO 8601 UTC (``2026-12-01T08:38:44Z``), anything else as text."""
    from datetime import datetime

    from archive.timefmt import iso_utc

    return iso_utc(value) if isinstance(value, datetime) else str(value)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=_json_value, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def print_error(message: str) -> None:
    """``error: MESSAGE`` on stderr, on one line (never wrapped, no markup taken from it)."""
    err_console.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True,
                      highlight=False)


def fail(message: str, code: int = EXIT_UNUSABLE) -> typer.Exit:
    """Print a clear message to stderr and return the Exit to raise."""
    print_error(message)
    return typer.Exit(code)


def count(n: int, word: str, plural: str | None = None) -> str:
    """``1 page``, ``2 pages``; ``plural`` where adding an s is wrong (``1 entry``)."""
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def print_after_steps(after: dict[str, Any] | None, indent: str = "") -> None:
    """What the after-crawl steps did (``bewaar.services.crawls.after_crawl``): the replay
    check's verdict, the package, and each step that was not done, with why."""
    if not after:
        return
    qa, seal = after.get("qa") or {}, after.get("seal") or {}
    if "passed" in qa:
        verdict = ("passed", "green") if qa["passed"] else ("FAILED", "red")
        err_console.print(Text.assemble(f"{indent}replay check: ", verdict,
                                        f" ({count(qa['pages'], 'page')}, {qa['failed']} "
                                        f"failed); report: {qa['report']}"),
                          highlight=False, soft_wrap=True)
    if seal.get("path"):
        err_console.print(f"{indent}sealed as {seal['package_id']}: {seal['path']}",
                          highlight=False, soft_wrap=True)
    for name in ("collection", "qa", "seal", "search"):
        step = after.get(name) or {}
        if not step.get("ok", True) and (step.get("error") or step.get("skipped")):
            err_console.print(Text.assemble((f"{indent}  {name} not done: ", "red"),
                                            str(step.get("error") or step.get("skipped"))),
                              highlight=False, soft_wrap=True)
