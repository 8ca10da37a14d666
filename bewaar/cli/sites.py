"""``bewaar site add|list|show``: register the sites the web team archives."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import select

from archive.db import session_scope
from archive.models import Site
from bewaar.cli.common import console, fail, print_json, settings

site_app = typer.Typer(help="Register and list the sites to archive.", no_args_is_help=True)


def site_to_dict(site: Site) -> dict[str, Any]:
    return {
        "id": site.id,
        "name": site.name,
        "seeds": site.seeds,
        "include": site.include,
        "exclude": site.exclude,
        "max_pages": site.max_pages,
        "max_depth": site.max_depth,
        "robots": site.robots,
        "category": site.category,
        "schedule": site.schedule,
        "embargo_days": site.embargo_days,
    }


@site_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Short name, e.g. 'justid'.")],
    seed: Annotated[list[str], typer.Option("--seed", help="Start URL (repeatable).")],
    include: Annotated[list[str] | None, typer.Option(help="Regex of URLs in scope.")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Regex of URLs out of scope.")] = None,
    max_pages: Annotated[int | None, typer.Option(min=1, help="Stop after N pages.")] = None,
    max_depth: Annotated[int | None, typer.Option(min=0, help="Link depth from seeds.")] = None,
    robots: Annotated[str, typer.Option(help="obey or ignore robots.txt.")] = "obey",
    category: Annotated[str | None, typer.Option(help="Selectielijst category code.")] = None,
    schedule: Annotated[str | None, typer.Option(
        help="Crawl schedule, cron ('0 3 * * *'; Europe/Amsterdam) run by `bewaar serve`.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the site as JSON.")] = False,
) -> None:
    """Register a site with its scope.

    Example:

        bewaar site add justid --seed https://www.justid.nl/ --exclude '/zoeken' --max-pages 5000
    """
    from archive.errors import BewaarError
    from bewaar.web.records import create_site
    from scheduler.audit import cli_actor

    fields = {"name": name, "seeds": seed, "include": include or [], "exclude": exclude or [],
              "max_pages": max_pages, "max_depth": max_depth, "robots": robots,
              "category": category, "schedule": schedule}
    try:
        with session_scope(settings()) as db:
            data = site_to_dict(create_site(db, fields, actor=cli_actor()))
    except BewaarError as exc:  # bad input: nothing was stored
        raise fail(str(exc)) from None
    if json_out:
        print_json(data)
    else:
        seeds = ", ".join(str(s) for s in data["seeds"])
        console.print(f"site [bold]{name}[/] registered (id {data['id']}), seeds: {seeds}")


@site_app.command("list")
def list_sites(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List registered sites.

    Example:

        bewaar site list --json
    """
    with session_scope(settings()) as db:
        sites = [site_to_dict(s) for s in db.scalars(select(Site).order_by(Site.name))]
    if json_out:
        print_json(sites)
        return
    table = Table("name", "seeds", "scope", "robots", "category")
    for s in sites:
        scope = " ".join([f"+{p}" for p in s["include"]] + [f"-{p}" for p in s["exclude"]])
        table.add_row(str(s["name"]), "\n".join(s["seeds"]), scope, str(s["robots"]), str(s["category"] or ""))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(site_app, name="site")
