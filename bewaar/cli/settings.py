"""``bewaar settings``: every setting with its value, default, source and description."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from archive.settings import SETTINGS_FILE, describe
from bewaar.cli.common import print_json, settings


def _text(value: Any) -> str:
    return "(not set)" if value is None else json.dumps(value, ensure_ascii=False)


def list_settings(
    json_out: Annotated[bool, typer.Option("--json", help="Print the settings as JSON.")] = False,
) -> None:
    """List every setting with its value, default, source and description.

    For each: name, environment variable, value, default, where the value comes from
    (default, bewaar.toml or environment) and what it does. Values come from
    BEWAAR_HOME/bewaar.toml, overridden by BEWAAR_* environment variables. Secrets are never
    shown: a setting holds only the name of the variable with a secret, and a password in a
    URL is printed as ***.

    Example:

        bewaar settings
        BEWAAR_CONCURRENCY=4 bewaar settings --json | jq '.settings[] | select(.source != "default")'
    """
    cfg = settings()
    path = cfg.home / SETTINGS_FILE
    rows = describe(cfg)
    if json_out:
        print_json({"file": str(path), "file_exists": path.is_file(),
                    "settings": [r.to_dict() for r in rows]})
        return
    out = [f"Settings of {cfg.home}: defaults, then {path}"
           f"{'' if path.is_file() else ' (none)'}, then BEWAAR_* environment variables.", ""]
    for r in rows:
        out.append(f"{r.name} = {_text(r.value)}    ({r.source})")
        out.append(f"    {r.env}; default {_text(r.default)}")
        out.append(f"    {r.description}")
    sys.stdout.write("\n".join(out) + "\n")


def register(app: typer.Typer) -> None:
    app.command("settings")(list_settings)
