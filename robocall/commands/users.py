"""`robocall users`: dashboard accounts."""

from __future__ import annotations

import os

import click
from sqlmodel import Session as DbSession
from sqlmodel import select

from robocall.accounts import AccountError, Role, User, add_user, change_user
from robocall.config import get_settings
from robocall.db import make_engine
from robocall.migrate import upgrade
from robocall.models import Contact


@click.group()
def users() -> None:
    """Dashboard accounts (roles: admin, cdc_staff, viewer)."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--districts", default="", help="Comma-separated districts the user sees (default: the whole province).")
def add(name: str, role: str, districts: str) -> None:
    """Create user NAME; the password comes from ROBOCALL_PASSWORD or a prompt."""
    password = _password()
    engine = _engine()
    try:
        user = add_user(engine, name, role, password, districts)
    except AccountError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"user {user.username} ({user.role}) created")
    _warn_unknown(user.districts)


@users.command("set-password")
@click.argument("name")
def set_password(name: str) -> None:
    """Give user NAME a new password (ROBOCALL_PASSWORD or a prompt); this also lifts a lockout."""
    password = _password()
    try:
        change_user(_engine(), name, password=password)
    except AccountError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"password of {name} changed")


@users.command("disable")
@click.argument("name")
@click.option("--enable", is_flag=True, help="Switch the account back on instead.")
def disable(name: str, enable: bool) -> None:
    """Switch user NAME off (their open sessions end at their next request), or on with --enable."""
    try:
        change_user(_engine(), name, active=enable)
    except AccountError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{name} {'enabled' if enable else 'disabled'}")


@users.command("districts")
@click.argument("name")
@click.argument("districts", default="")
def set_districts(name: str, districts: str) -> None:
    """Limit user NAME to DISTRICTS (comma-separated); without DISTRICTS, the whole province."""
    try:
        user = change_user(_engine(), name, districts=districts)
    except AccountError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{name}: {user.districts or 'toàn tỉnh / whole province'}")
    _warn_unknown(user.districts)


def _warn_unknown(districts: str) -> None:
    """A misspelt district would show its officer nothing: say so (new districts may come with a list)."""
    if not districts:
        return
    with DbSession(_engine()) as db:
        known = set(db.exec(select(Contact.district).distinct()).all())
    for district in districts.split(","):
        if district not in known:
            click.echo(f"cảnh báo: chưa có ai ở huyện '{district}' / warning: no contact in district '{district}'",
                       err=True)


@users.command("list")
def list_users() -> None:
    """List the users and their roles."""
    engine = _engine()
    with DbSession(engine) as db:
        for user in db.exec(select(User).order_by(User.username)).all():
            click.echo(f"{user.username}\t{user.role}\t{'active' if user.active else 'disabled'}"
                       f"\t{user.districts or '*'}")


def _password() -> str:
    return os.environ.get("ROBOCALL_PASSWORD") or click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _engine():  # type: ignore[no-untyped-def]
    engine = make_engine(get_settings().database_url)
    upgrade(engine)
    return engine
