"""The ``bewaar`` console script. Each capability registers its commands from its own module."""

from __future__ import annotations

import importlib
import logging
import sys

import typer

from archive.errors import BewaarError
from bewaar.cli.common import EXIT_UNUSABLE, err_console

# Order as data: each module has ``register(app)``.
COMMAND_MODULES = [
    "bewaar.cli.sites",
    "bewaar.cli.service",
    "bewaar.cli.crawl",
    "bewaar.cli.packages",
    "bewaar.cli.chat",
    "bewaar.cli.replay",
    "bewaar.cli.demo",
]

app = typer.Typer(
    name="bewaar",
    help=(
        "Bewaarplaats: archive ministry websites and chats as sealed, replayable archives.\n\n"
        "Everything lives in BEWAAR_HOME (default ./bewaar-data); settings come from "
        "BEWAAR_HOME/bewaar.toml and BEWAAR_* environment variables.\n\n"
        "Example: bewaar site add justid --seed https://www.justid.nl/ && bewaar crawl --site justid"
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except BewaarError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(EXIT_UNUSABLE)


if __name__ == "__main__":
    main()
