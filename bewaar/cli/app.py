"""The ``bewaar`` command line (typer). Each capability registers its commands from its own
module; ``bewaar.cli.main`` is the entry point."""

from __future__ import annotations

import importlib
import sys

import typer

from archive.errors import BewaarError
from bewaar.cli.common import EXIT_UNUSABLE, print_error, start

# Order as data: each module has ``register(app)`` for these top-level commands. A command
# line that names one of them imports only its module (``bewaar crawl`` starts faster);
# ``bewaar --help`` and anything unknown import them all.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "bewaar.cli.sites": ("site",),
    "bewaar.cli.service": ("serve", "schedule", "user", "token"),
    "bewaar.cli.worker": ("worker",),
    "bewaar.cli.crawl": ("crawl", "runs", "run"),
    "bewaar.cli.harvest": ("harvest",),
    "bewaar.cli.imports": ("import",),
    "bewaar.cli.packages": ("keys", "seal", "verify", "package", "selectielijst"),
    "bewaar.cli.chat": ("chat",),
    "bewaar.cli.replay": ("replay", "export", "fixity"),
    "bewaar.cli.demo": ("demo",),
    "bewaar.cli.audit": ("audit",),
    "bewaar.cli.records": ("retention", "hold"),
    "bewaar.cli.destruction": ("destroy",),
    "bewaar.cli.transfer": ("transfer",),
    "bewaar.cli.settings": ("settings",),
    "bewaar.cli.archivist": ("enrich", "suggestions"),
    "bewaar.cli.search": ("search",),
    "bewaar.cli.woo": ("woo",),
}

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


@app.callback()
def _root() -> None:
    """Always a group of commands, even when only one module is registered."""


def register_commands(args: list[str]) -> None:
    wanted = [m for m, names in COMMAND_MODULES.items() if args and args[0] in names]
    for name in wanted or COMMAND_MODULES:
        importlib.import_module(name).register(app)


def run() -> None:
    register_commands(sys.argv[1:])
    if sys.argv[1:] and not {"-h", "--help"} & set(sys.argv[1:]):
        start(sys.argv[1:])  # bad settings stop every command (exit 2); logging at log_level
    try:
        app()
    except BewaarError as exc:
        print_error(str(exc))
        sys.exit(EXIT_UNUSABLE)
