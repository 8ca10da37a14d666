"""``bewaar serve``, ``bewaar schedule …``, ``bewaar user …``, ``bewaar token …``."""

from __future__ import annotations

import os
import socket
import sys
from typing import Annotated

import typer
from rich.table import Table

from archive.db import session_scope
from bewaar.cli.common import console, err_console, fail, print_json, settings
from bewaar.cli.tables import table as make_table
from bewaar.services.audit import cli_actor

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

    Interrupted runs of a process that died are marked and resumed or retried at start. With
    task_queue = "postgres" it only schedules: the due jobs go to the task queue and `bewaar
    worker` processes run them.

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
    server = uvicorn.Server(uvicorn.Config(app, log_level=cfg.log_level.lower(), access_log=False))
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
    from bewaar.services.sites import set_schedule

    kind, target, rest = _kind_target(args, chat, 2)
    entry = set_schedule(settings(), cli_actor(), kind, target, rest[0])
    if json_out:
        print_json(entry)
    else:
        console.print(f"{kind} {target}: '{entry['cron']}', next run "
                      f"{_when(entry['next_run'])}", highlight=False)


def _when(iso: str | None) -> str:
    from datetime import datetime

    from archive.timefmt import human

    return human(datetime.fromisoformat(iso)) if iso else "never"


@schedule_app.command("remove")
def schedule_remove(
    site: Annotated[str | None, typer.Argument(help="The site.")] = None,
    chat: Annotated[str | None, typer.Option("--chat", help="A chat source instead.")] = None,
) -> None:
    """Remove a schedule (the site or source stays registered).

    Example:

        bewaar schedule remove justid
    """
    from bewaar.services.sites import remove_schedule

    kind, target, _ = _kind_target([site] if site else [], chat, 1)
    remove_schedule(settings(), cli_actor(), kind, target)
    console.print(f"schedule of {kind} {target} removed", highlight=False)


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
        entries = [e.to_dict() for e in list_schedules(db)]
    if json_out:
        print_json(entries)
        return
    table = Table("kind", "name", "cron", "next run")
    for e in entries:
        table.add_row(e["kind"], e["target"], e["cron"], _when(e["next_run"]))
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
    from bewaar.services.sites import request_run
    from scheduler.jobs import JOB_FUNCS
    from scheduler.service import enqueue

    kind, target, _ = _kind_target([site] if site else [], chat, 1)
    s = settings()
    data = request_run(s, cli_actor(), kind, target,
                       lambda k, t: enqueue(s, JOB_FUNCS[k], [t]))
    runner = "a `bewaar worker`" if s.task_queue == "postgres" else "a running `bewaar serve`"
    if data["job_id"] == "queued-already":
        console.print(f"{kind} {target} is waiting in the queue already; {runner} starts it",
                      highlight=False, soft_wrap=True)
        return
    console.print(f"{kind} {target} queued as job {data['job_id']}; {runner} starts it",
                  highlight=False, soft_wrap=True)


def _password(env: str, *, what: str = "password") -> str:
    password = os.environ.get(env)
    if not password:
        if not sys.stdin.isatty():
            raise fail(f"no {what}: set ${env} or run this in a terminal to be asked")
        password = typer.prompt(what, hide_input=True, confirmation_prompt=True)
    return password


PASSWORD_ENV = typer.Option(help="Environment variable holding the password (else you are "
                                 "asked).")


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help="webteam, records, auditor, archivist or admin.")],
    password_env: Annotated[str, PASSWORD_ENV] = "BEWAAR_NEW_PASSWORD",
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Add a local user. The password comes from $BEWAAR_NEW_PASSWORD or a prompt.

    Example:

        BEWAAR_NEW_PASSWORD=… bewaar user add anna --role webteam
    """
    from bewaar.services.accounts import add_user

    data = add_user(settings(), cli_actor(), name, role, _password(password_env))
    if json_out:
        print_json(data)
    else:
        console.print(f"user [bold]{name}[/] added with role {role}", highlight=False)


@user_app.command("list")
def user_list(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List users and their roles.

    Example:

        bewaar user list --json
    """
    from bewaar.services.accounts import users

    with session_scope(settings()) as db:
        rows = users(db)
    if json_out:
        print_json(rows)
        return
    table = Table("name", "role", "state")
    for u in rows:
        table.add_row(u["name"], u["role"], "disabled" if u["disabled"] else "active")
    console.print(table)


def _user_change(verb: str, name: str, json_out: bool, **kwargs: object) -> None:
    from bewaar.services import accounts

    s, actor = settings(), cli_actor()
    if verb == "disable":
        data = accounts.set_disabled(s, actor, name, True)
    elif verb == "enable":
        data = accounts.set_disabled(s, actor, name, False)
    elif verb == "remove":
        data = accounts.remove_user(s, actor, name)
    elif verb == "role":
        data = accounts.set_role(s, actor, name, str(kwargs["role"]))
    else:
        data = accounts.set_password(s, actor, name, str(kwargs["password"]))
    if json_out:
        print_json(data)
    else:
        done = {"disable": "disabled (its sessions ended, its tokens stop working)",
                "enable": "enabled", "remove": "removed with its tokens",
                "role": f"now has the role {kwargs.get('role')}",
                "password": "has a new password (its browser sessions ended)"}[verb]
        console.print(f"user [bold]{name}[/] {done}", highlight=False)


JSON_OPT = typer.Option("--json", help="Print JSON.")


@user_app.command("disable")
def user_disable(name: Annotated[str, typer.Argument(help="The user.")],
                 json_out: Annotated[bool, JSON_OPT] = False) -> None:
    """Disable a user: it cannot log in, its sessions end and its API tokens stop at once.

    Example:

        bewaar user disable anna
    """
    _user_change("disable", name, json_out)


@user_app.command("enable")
def user_enable(name: Annotated[str, typer.Argument(help="The user.")],
                json_out: Annotated[bool, JSON_OPT] = False) -> None:
    """Enable a disabled user again (its API tokens work again; it must log in anew).

    Example:

        bewaar user enable anna
    """
    _user_change("enable", name, json_out)


@user_app.command("remove")
def user_remove(name: Annotated[str, typer.Argument(help="The user.")],
                json_out: Annotated[bool, JSON_OPT] = False) -> None:
    """Remove a user with its API tokens and sessions (the audit log keeps its name).

    Example:

        bewaar user remove anna
    """
    _user_change("remove", name, json_out)


@user_app.command("role")
def user_role(name: Annotated[str, typer.Argument(help="The user.")],
              role: Annotated[str, typer.Argument(help="webteam, records, auditor, archivist or admin.")],
              json_out: Annotated[bool, JSON_OPT] = False) -> None:
    """Give a user another role.

    Example:

        bewaar user role anna records
    """
    _user_change("role", name, json_out, role=role)


@user_app.command("password")
def user_password(
    name: Annotated[str, typer.Argument(help="The user.")],
    password_env: Annotated[str, PASSWORD_ENV] = "BEWAAR_NEW_PASSWORD",
    json_out: Annotated[bool, JSON_OPT] = False,
) -> None:
    """Set a new password (from $BEWAAR_NEW_PASSWORD or a prompt); the user's browser sessions
    end.

    Example:

        BEWAAR_NEW_PASSWORD=… bewaar user password anna
    """
    _user_change("password", name, json_out, password=_password(password_env))


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
    from bewaar.services.accounts import create_token

    data = create_token(settings(), cli_actor(), user, label)
    if json_out:
        print_json(data)
    else:
        err_console.print(f"API token {data['id']} for {user}. Keep it now; it is not shown "
                          f"again:")
        typer.echo(data["token"])


@token_app.command("list")
def token_list(
    user: Annotated[str | None, typer.Option(help="Only this user's tokens.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List API tokens (never the secrets): id, user, label, made, last used, revoked.

    Example:

        bewaar token list --user anna --json
    """
    from bewaar.services.accounts import tokens

    with session_scope(settings()) as db:
        rows = tokens(db, user)
    if json_out:
        print_json(rows)
        return
    from archive.timefmt import human

    table = make_table("id", "user", "label", "made", "last used", "state",
                       whole=("id", "made"))
    for t in rows:
        table.add_row(str(t["id"]), t["user"], t["label"] or "", human(t["created_at"]),
                      human(t["last_used_at"]) if t["last_used_at"] else "never",
                      "revoked" if t["revoked"] else "active")
    console.print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="The token's id (see `bewaar token list`).")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Revoke an API token: it stops working at once.

    Example:

        bewaar token revoke 3
    """
    from bewaar.services.accounts import revoke_token

    data = revoke_token(settings(), cli_actor(), token_id)
    if json_out:
        print_json(data)
    else:
        console.print(f"API token {token_id} of {data['user']} revoked", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(schedule_app, name="schedule")
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
