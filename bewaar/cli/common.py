"""What every command shares: the settings (loaded once), consoles, JSON output, exit codes."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from rich.console import Console

from archive.settings import Settings, load_settings

console = Console()
err_console = Console(stderr=True)

# Exit codes used across commands.
EXIT_OK = 0
EXIT_FINDINGS = 1  # the command ran and found problems (invalid package, failed QA, …)
EXIT_UNUSABLE = 2  # the command could not run (bad input, missing run, bad setting)

_settings: Settings | None = None


def settings() -> Settings:
    """The settings for this process, loaded on first use."""
    global _settings
    if _settings is None:
        _settings = load_settings()
    return _settings


def reset_settings() -> None:
    global _settings
    _settings = None


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def fail(message: str, code: int = EXIT_UNUSABLE) -> typer.Exit:
    """Print a clear message to stderr and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)
