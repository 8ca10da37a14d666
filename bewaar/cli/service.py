"""``bewaar serve``, ``bewaar schedule …``, ``bewaar user add``, ``bewaar token create``."""

from __future__ import annotations

import os
import socket
import sys
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from archive.db import session_scope
from bewaar.cli.common import console, err_console, fail, print_json, settings

schedule_app = typer.Typer(help="Schedules of site crawls and chat exports.", no_args_is_help=True)
user_app = typer.Typer(help="Local users of the web UI and API.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (Authorization: Bearer …).", no_args_is_help=True)


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default serve_host).")] = None,
    port: Annotated[int | None, typer.Option(min=0, max=65535,
                                             help="Port (default serve_port; 0 = any free).")] = None,
    sync_seconds: Annotated[float, typer.Option(min=0.2, help="How often schedules are synced "
                                                "and dead runs recovered.")] = 10.0,
    lock_ttl: Annotated[float, typer.Option(min=1.0, help="Seconds before a silent process's "
                                            "locks expire.")] = 60.0,
    no_scheduler: Annotated[bool, typer.Option("--no-scheduler",
                                               help="Serve the web app only.")] = False,
) -> None:
    """Run the scheduler and the web app (UI and /api) in one process.

    Interrupted runs of a process that died are marked and resumed or retried at start.

    Example:

        bewaar serve --host 127.0.0.1 --port 8000
    """
    import uvicorn

    from bewaar.web.app import create_app
    from scheduler.service import Service

    cfg = settings()
    host = host or cfg.serve_host
    port = cfg.serve_port if port is None else port
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    service = None if no_scheduler else Service(cfg, sync_seconds=sync_seconds, lock_ttl=lock_ttl)
    if service is not None:
        service.start()
        for item in service.recovered:
            err_console.print(f"recovered: job run {item['job_run']} ({item['kind']} "
                              f"{item['target']}) was interrupted; {item['action']}")
    app = create_app(cfg, service)
    bound = sock.getsockname()[1]
    sys.stderr.write(f"Bewaarplaats serving on http://{host}:{bound}/ (pid {os.getpid()})\n")
    sys.stderr.flush()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    try:
        server.run(sockets=[sock])
    finally:
        if service is not None:
            service.shutdown(wait=False)


def _kind_target(args: list[str], chat: str | None, want: int) -> tuple[str, str, list[str]]:
    if chat:
        if len(args) != want - 1:
            raise fail(f"with --chat give {'CRON only' if want == 2 else 'no SITE'}")
        return "chat", chat, args
    if len(args) != want:
        raise fail("give SITE CRON (quote the cron expression)" if want == 2 else "give SITE")
    return "crawl", args[0], args[1:]


@schedule_app.command("set")
def schedule_set(
    args: Annotated[list[str], typer.Argument(help="SITE CRON, or CRON with --chat.")],
    chat: Annotated[str | None, typer.Option("--chat", help="A chat source instead.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Set the schedule of a site's crawl or a chat source's export (cron, Europe/Amsterdam).

    Five fields 'minute hour day month weekday', six with seconds first, or @daily etc.

    Example:

        bewaar schedule set justid '0 3 * * 1-5'
        bewaar schedule set --chat bewindspersonen '*/15 * * * *'
    """
    from scheduler.audit import cli_actor
    from scheduler.schedules import set_schedule

    kind, target, rest = _kind_target(args, chat, 2)
    with session_scope(settings()) as db:
        entry = set_schedule(db, kind, target, rest[0], actor=cli_actor())
    if json_out:
        print_json(entry.to_dict())
    else:
        when = entry.next_run.strftime("%Y-%m-%d %H:%M:%S %Z") if entry.next_run else "never"
        console.print(f"{kind} {target}: '{entry.cron}', next run {when}")


@schedule_app.command("remove")
def schedule_remove(
    site: Annotated[str | None, typer.Argument(help="The site.")] = None,
    chat: Annotated[str | None, typer.Option("--chat", help="A chat source instead.")] = None,
) -> None:
    """Remove a schedule (the site or source stays registered).

    Example:

        bewaar schedule remove justid
    """
    from scheduler.audit import cli_actor
    from scheduler.schedules import remove_schedule

    kind, target, _ = _kind_target([site] if site else [], chat, 1)
    with session_scope(settings()) as db:
        remove_schedule(db, kind, target, actor=cli_actor())
    console.print(f"schedule of {kind} {target} removed")


@schedule_app.command("list")
def schedule_list(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the schedules with their next run.

    Example:

        bewaar schedule list --json
    """
    from scheduler.schedules import list_schedules

    with session_scope(settings()) as db:
        entries = list_schedules(db)
    if json_out:
        print_json([e.to_dict() for e in entries])
        return
    table = Table("kind", "name", "cron", "next run")
    for e in entries:
        table.add_row(e.kind, e.target, e.cron,
                      e.next_run.strftime("%Y-%m-%d %H:%M:%S %Z") if e.next_run else "never")
    console.print(table)


@schedule_app.command("run")
def schedule_run(
    site: Annotated[str | None, typer.Argument(help="The site.")] = None,
    chat: Annotated[str | None, typer.Option("--chat", help="A chat source instead.")] = None,
) -> None:
    """Ask the running service to crawl a site (or export a chat source) now.

    Example:

        bewaar schedule run justid
    """
    from archive.models import Site
    from scheduler.audit import audit, cli_actor
    from scheduler.jobs import JOB_FUNCS
    from scheduler.service import enqueue

    kind, target, _ = _kind_target([site] if site else [], chat, 1)
    with session_scope(settings()) as db:
        if kind == "crawl" and db.scalar(select(Site).where(Site.name == target)) is None:
            raise fail(f"no site named {target!r} (see `bewaar site list`)")
        jid = enqueue(settings(), JOB_FUNCS[kind], [target])
        audit(db, cli_actor(), f"{kind}.request", target, job=jid)
    console.print(f"{kind} {target} queued as job {jid}; a running `bewaar serve` starts it")


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help="webteam, records, auditor or admin.")],
    password_env: Annotated[str, typer.Option(help="Environment variable holding the "
                                              "password (else you are asked).")]
    = "BEWAAR_NEW_PASSWORD",
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Add a local user. The password comes from $BEWAAR_NEW_PASSWORD or a prompt.

    Example:

        BEWAAR_NEW_PASSWORD=… bewaar user add anna --role webteam
    """
    from bewaar.web.accounts import add_user
    from scheduler.audit import cli_actor

    password = os.environ.get(password_env)
    if not password:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with session_scope(settings()) as db:
        user = add_user(db, name, role, password, actor=cli_actor())
        data = {"id": user.id, "name": user.name, "role": user.role}
    if json_out:
        print_json(data)
    else:
        console.print(f"user [bold]{name}[/] added with role {role}")


@user_app.command("list")
def user_list(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List users and their roles.

    Example:

        bewaar user list --json
    """
    from archive.models import User

    with session_scope(settings()) as db:
        users = [{"name": u.name, "role": u.role, "disabled": u.disabled}
                 for u in db.scalars(select(User).order_by(User.name))]
    if json_out:
        print_json(users)
        return
    for u in users:
        console.print(f"{u['name']}\t{u['role']}{'  (disabled)' if u['disabled'] else ''}")


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Argument(help="The user the token acts as.")],
    label: Annotated[str | None, typer.Option(help="What the token is for.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Make an API token for USER. It is printed once; only its hash is kept.

    Example:

        bewaar token create anna --label nightly-report
    """
    from bewaar.web.accounts import create_api_token
    from scheduler.audit import cli_actor

    with session_scope(settings()) as db:
        secret = create_api_token(db, user, label=label, actor=cli_actor())
    if json_out:
        print_json({"user": user, "label": label, "token": secret})
    else:
        err_console.print("Keep this token now; it is not shown again:")
        typer.echo(secret)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(schedule_app, name="schedule")
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
