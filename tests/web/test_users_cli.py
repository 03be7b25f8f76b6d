"""`robocall users add` creates an account whose password works; bad input is refused."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import select

from robocall.accounts import User, verify_password
from robocall.cli import cli


def test_users_add_reads_the_password_from_the_environment(db_engine: Engine) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["users", "add", "bs_hoa", "--role", "cdc_staff"],
                           env={"ROBOCALL_PASSWORD": "mat khau that dai"})
    assert result.exit_code == 0, result.output
    with DbSession(db_engine) as db:
        user = db.exec(select(User).where(User.username == "bs_hoa")).one()
    assert user.role == "cdc_staff" and verify_password(user.password_hash, "mat khau that dai")
    again = runner.invoke(cli, ["users", "add", "bs_hoa", "--role", "viewer"], env={"ROBOCALL_PASSWORD": "mot cau khac cung dai"})
    assert again.exit_code != 0 and "already exists" in again.output
    listed = runner.invoke(cli, ["users", "list"])
    assert "bs_hoa\tcdc_staff" in listed.output


def test_users_add_prompts_when_no_password_is_set(db_engine: Engine) -> None:
    result = CliRunner().invoke(cli, ["users", "add", "quan_tri", "--role", "admin"],
                                input="mat khau moi 1\nmat khau moi 1\n", env={"ROBOCALL_PASSWORD": ""})
    assert result.exit_code == 0, result.output
    short = CliRunner().invoke(cli, ["users", "add", "x", "--role", "admin"], env={"ROBOCALL_PASSWORD": "short"})
    assert short.exit_code != 0 and "at least 12" in short.output
    bad_role = CliRunner().invoke(cli, ["users", "add", "y", "--role", "boss"], env={"ROBOCALL_PASSWORD": "12345678x"})
    assert bad_role.exit_code != 0


def test_set_password_lifts_a_lockout_and_disable_switches_the_account_off(db_engine: Engine) -> None:
    import datetime as dt

    from robocall.accounts import authenticate

    runner = CliRunner()
    assert runner.invoke(cli, ["users", "add", "bs_an", "--role", "viewer"],
                         env={"ROBOCALL_PASSWORD": "mat khau cu 1"}).exit_code == 0
    with DbSession(db_engine) as db:
        for _ in range(3):
            authenticate(db, "bs_an", "sai", max_failures=3, lockout=dt.timedelta(minutes=15))
        assert authenticate(db, "bs_an", "mat khau cu 1", max_failures=3, lockout=dt.timedelta(minutes=15))[1]
    result = runner.invoke(cli, ["users", "set-password", "bs_an"], env={"ROBOCALL_PASSWORD": "mat khau moi 2"})
    assert result.exit_code == 0, result.output
    with DbSession(db_engine) as db:
        user, locked = authenticate(db, "bs_an", "mat khau moi 2", max_failures=3, lockout=dt.timedelta(minutes=15))
    assert user is not None and locked is None
    assert runner.invoke(cli, ["users", "disable", "bs_an"]).exit_code == 0
    with DbSession(db_engine) as db:
        assert authenticate(db, "bs_an", "mat khau moi 2", max_failures=3, lockout=dt.timedelta(minutes=15))[0] is None
    assert "disabled" in runner.invoke(cli, ["users", "list"]).output
    assert runner.invoke(cli, ["users", "disable", "nobody"]).exit_code != 0


def test_users_districts_limits_a_user_and_an_empty_list_gives_back_the_province(db_engine: Engine) -> None:
    runner = CliRunner()
    added = runner.invoke(cli, ["users", "add", "bs_loc", "--role", "cdc_staff", "--districts",
                                "Huyện Phú Lộc, Huyện Nam Đông,Huyện Phú Lộc"], env={"ROBOCALL_PASSWORD": "mat khau dai 1"})
    assert added.exit_code == 0, added.output
    assert "no contact in district 'Huyện Nam Đông'" in added.output  # a misspelling would show nothing: warned
    with DbSession(db_engine) as db:
        assert db.exec(select(User.districts).where(User.username == "bs_loc")).one() == "Huyện Phú Lộc,Huyện Nam Đông"
    assert "bs_loc\tcdc_staff\tactive\tHuyện Phú Lộc,Huyện Nam Đông" in runner.invoke(cli, ["users", "list"]).output
    whole = runner.invoke(cli, ["users", "districts", "bs_loc"])
    assert whole.exit_code == 0 and "toàn tỉnh" in whole.output
    with DbSession(db_engine) as db:
        assert db.exec(select(User.districts).where(User.username == "bs_loc")).one() == ""
    assert runner.invoke(cli, ["users", "districts", "nobody", "Huyện A"]).exit_code != 0
