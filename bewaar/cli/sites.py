"""``bewaar site add|edit|remove|list|show``: register the sites the web team archives."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from archive.db import session_scope
from bewaar.cli.common import console, fail, print_json, settings
from bewaar.cli.tables import table as make_table
from bewaar.services import queries

site_app = typer.Typer(help="Register, change, remove and list the sites to archive.",
                       no_args_is_help=True)

SCOPE_HELP = "Regex of URLs in scope (repeatable)."


@site_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Short name, e.g. 'justid'.")],
    seed: Annotated[list[str], typer.Option("--seed", help="Start URL (repeatable).")],
    include: Annotated[list[str] | None, typer.Option(help=SCOPE_HELP)] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Regex of URLs out of scope.")] = None,
    max_pages: Annotated[int | None, typer.Option(min=1, help="Stop after N pages.")] = None,
    max_depth: Annotated[int | None, typer.Option(min=0, help="Link depth from seeds.")] = None,
    robots: Annotated[str, typer.Option(help="obey or ignore robots.txt.")] = "obey",
    category: Annotated[str | None, typer.Option(help="Selectielijst category code.")] = None,
    schedule: Annotated[str | None, typer.Option(
        help="Crawl schedule, cron ('0 3 * * *'; Europe/Amsterdam) run by `bewaar serve`.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the site as JSON.")] = False,
) -> None:
    """Register a site with its scope. Every seed must be a whole http(s) address.

    Example:

        bewaar site add justid --seed https://www.justid.nl/ --exclude '/zoeken' --max-pages 5000
    """
    from bewaar.services.audit import cli_actor
    from bewaar.services.sites import add_site

    data = add_site(settings(), cli_actor(), {
        "name": name, "seeds": seed, "include": include or [], "exclude": exclude or [],
        "max_pages": max_pages, "max_depth": max_depth, "robots": robots,
        "category": category, "schedule": schedule})
    if json_out:
        print_json(data)
    else:
        seeds = ", ".join(str(s) for s in data["seeds"])
        console.print(f"site [bold]{name}[/] registered (id {data['id']}), seeds: {seeds}",
                      highlight=False, soft_wrap=True)


@site_app.command("edit")
def edit(
    name: Annotated[str, typer.Argument(help="The site to change.")],
    seed: Annotated[list[str] | None, typer.Option(
        "--seed", help="Replace the seeds (repeatable).")] = None,
    include: Annotated[list[str] | None, typer.Option(help="Replace the include patterns.")]
    = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Replace the exclude patterns.")]
    = None,
    no_include: Annotated[bool, typer.Option("--no-include", help="Drop every include "
                                             "pattern.")] = False,
    no_exclude: Annotated[bool, typer.Option("--no-exclude", help="Drop every exclude "
                                             "pattern.")] = False,
    max_pages: Annotated[int | None, typer.Option(min=1, help="Stop after N pages.")] = None,
    max_depth: Annotated[int | None, typer.Option(min=0, help="Link depth from seeds.")] = None,
    robots: Annotated[str | None, typer.Option(help="obey or ignore robots.txt.")] = None,
    category: Annotated[str | None, typer.Option(help="Selectielijst category code.")] = None,
    schedule: Annotated[str | None, typer.Option(
        help="Crawl schedule (cron); '' removes it.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the site as JSON.")] = False,
) -> None:
    """Change a site: only the options given change; the audit log keeps old and new values.

    Example:

        bewaar site edit justid --seed https://www.justid.nl/ --seed https://www.justid.nl/en/
        bewaar site edit justid --max-pages 10000 --schedule '0 4 * * *'
    """
    from bewaar.services.audit import cli_actor
    from bewaar.services.sites import edit_site

    if include is not None and no_include or exclude is not None and no_exclude:
        raise fail("give --include or --no-include, not both (likewise --exclude)")
    changes: dict[str, Any] = {k: v for k, v in {
        "seeds": seed, "include": [] if no_include else include,
        "exclude": [] if no_exclude else exclude, "max_pages": max_pages,
        "max_depth": max_depth, "robots": robots, "category": category,
        "schedule": schedule}.items() if v is not None}
    data = edit_site(settings(), cli_actor(), name, changes)
    if json_out:
        print_json(data)
    elif data["changed"]:
        console.print(f"site [bold]{name}[/]: changed {', '.join(data['changed'])}",
                      highlight=False)
    else:
        console.print(f"site [bold]{name}[/]: nothing changed (the values were the same)",
                      highlight=False)


@site_app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="The site to remove.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Remove a site. A site without runs is deleted; a site with runs is retired: it is not
    crawled any more and its schedule is removed, but its archives stay untouched.

    Example:

        bewaar site remove justid-test
    """
    from bewaar.services.audit import cli_actor
    from bewaar.services.sites import remove_site

    data = remove_site(settings(), cli_actor(), name)
    if json_out:
        print_json(data)
    elif data["outcome"] == "deleted":
        console.print(f"site [bold]{name}[/] deleted (it had no runs)", highlight=False)
    else:
        console.print(f"site [bold]{name}[/] retired: no more crawls; its {data['runs']} "
                      f"run(s) and their archives are kept", highlight=False)


@site_app.command("list")
def list_sites(
    retired: Annotated[bool, typer.Option("--retired/--active", help="Include retired "
                                          "sites.")] = True,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List registered sites.

    Example:

        bewaar site list --json
    """
    with session_scope(settings()) as db:
        sites = queries.sites(db, retired=retired)
    if json_out:
        print_json(sites)
        return
    table = make_table("name", "seeds", "scope", "robots", "category", "state",
                       whole=("name", "seeds"))
    for s in sites:
        scope = " ".join([f"+{p}" for p in s["include"]] + [f"-{p}" for p in s["exclude"]])
        table.add_row(str(s["name"]), "\n".join(s["seeds"]), scope, str(s["robots"]),
                      str(s["category"] or ""), "retired" if s["retired"] else "active")
    console.print(table)


@site_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="The site.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one site with its scope and latest runs.

    Example:

        bewaar site show justid --json
    """
    from bewaar.services.sites import get_site, site_dict

    with session_scope(settings()) as db:
        data = site_dict(get_site(db, name))
        data["runs"] = [queries.run_dict(r) for r in queries.runs(db, name, 10)]
    if json_out:
        print_json(data)
        return
    for key in ("name", "seeds", "include", "exclude", "max_pages", "max_depth", "robots",
                "category", "schedule", "embargo_days", "retired"):
        console.print(f"{key}: {data[key]}", highlight=False, soft_wrap=True)
    for r in data["runs"]:
        console.print(f"  run {r['id']} {r['kind']} {r['status']}: {r['pages']} pages",
                      highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(site_app, name="site")
