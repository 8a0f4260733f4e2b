"""``tds users``: people who may use the admin API and dashboard, with roles."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from tds_core import errors
from tds_core.access import admin
from tds_core.access.roles import Role
from tds_core.access.users import UserExists
from tds_core.cli.environment import (
    JsonOpt,
    cli_actor,
    console,
    print_json,
    settings_from_env,
    with_connection,
)

users_app = typer.Typer(
    help="Users of the admin API and dashboard (passwords stored as argon2 hashes).", no_args_is_help=True
)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def _fail(message: str) -> None:
    console.print(f"[red]{message}[/red]")
    raise typer.Exit(1)


@users_app.command("create")
def create(
    username: Annotated[str, typer.Option("--username", help="Login name.")],
    role: Annotated[Role, typer.Option("--role", help="viewer, operator or admin.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    by: Annotated[str | None, typer.Option(help="Who creates it (default: your user name).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a user; the password is read from stdin (--password-stdin) or prompted."""
    password = _read_password(password_stdin)
    settings = settings_from_env()
    try:
        user = with_connection(
            settings, lambda c: admin.create_user(c, username, password, role, cli_actor(by))
        )
    except (UserExists, ValueError) as exc:
        _fail(str(exc))
        return
    if as_json:
        print_json({"id": user.id, "username": user.username, "role": user.role.value})
    else:
        console.print(f"user {user.username} created with role {user.role.value}")


@users_app.command("list")
def list_users(as_json: JsonOpt = False) -> None:
    """Users and their roles (never their password hashes)."""
    rows = with_connection(settings_from_env(), admin.list_users)
    if as_json:
        print_json(rows)
        return
    table = Table("username", "role", "created", "by", "disabled", "last login")
    for r in rows:
        table.add_row(
            r["username"],
            r["role"],
            str(r["created_at"])[:19],
            r["created_by"],
            str(r["disabled_at"] or "")[:19],
            str(r["last_login_at"] or "")[:19],
        )
    console.print(table)


def _update(username: str, by: str | None, as_json: bool, **change: Any) -> None:
    try:
        row = with_connection(
            settings_from_env(), lambda c: admin.update_user(c, username, cli_actor(by), **change)
        )
    except (errors.NotFound, ValueError) as exc:
        _fail(str(exc))
        return
    if as_json:
        print_json(row)
    else:
        console.print(f"user {username} updated; their refresh tokens are revoked")


@users_app.command("set-role")
def set_role(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[Role, typer.Argument(help="viewer, operator or admin.")],
    by: Annotated[str | None, typer.Option(help="Who changes it.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a user's role."""
    _update(username, by, as_json, role=role)


@users_app.command("password")
def set_password(
    username: Annotated[str, typer.Argument(help="Login name.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read it from stdin.")] = False,
    by: Annotated[str | None, typer.Option(help="Who changes it.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Set a new password."""
    _update(username, by, as_json, password=_read_password(password_stdin))


@users_app.command("disable")
def disable(
    username: Annotated[str, typer.Argument(help="Login name.")],
    by: Annotated[str | None, typer.Option(help="Who disables it.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Disable a user: no new logins, refresh tokens revoked."""
    _update(username, by, as_json, disabled=True)


@users_app.command("enable")
def enable(
    username: Annotated[str, typer.Argument(help="Login name.")],
    by: Annotated[str | None, typer.Option(help="Who enables it.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Enable a disabled user."""
    _update(username, by, as_json, disabled=False)
