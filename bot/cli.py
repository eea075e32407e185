"""The `trygg` command: run · check · chat · invite · remind · keygen · backup · restore · ...

Every command fails with one line that says what to do, never a traceback: `main` turns the
errors an operator can cause (a missing folder, a wrong key, a locked database) into a message
and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from telegram import Bot, Update
from telegram.error import InvalidToken, TelegramError

from bot.config import ConfigError, Settings, load_settings
from bot.datadir import DataDirError, create_key_file, open_database, prepare_data_dir
from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES
from bot.invites import NATIONAL_ORG, InviteService, deep_link
from bot.monitoring import ListenError
from bot.routines.loader import check_paths
from bot.routines.models import Routine
from bot.routines.registry import RoutineRegistry
from bot.routines.values import parse_duration
from bot.storage import Database, MigrationError, Role, StorageError

if TYPE_CHECKING:
    from bot.context import TryggApp

log = logging.getLogger("bot")

NO_TOKEN_HELP = """\
TELEGRAM_BOT_TOKEN is not set, so the bot cannot reach Telegram.
  To run the real bot: create a bot with @BotFather, then
    export TELEGRAM_BOT_TOKEN=123456:ABC...
  (and TRYGG_API_URL for a self-hosted Bot API server).
  To try it here without a token: trygg chat --org solvik
"""

TOKEN_REFUSED = """\
trygg: Telegram refused the bot token. Check TELEGRAM_BOT_TOKEN (BotFather shows it, or
  revokes it), and TRYGG_API_URL if you run your own Bot API server.
"""


# Third-party loggers and the most they may say, whatever TRYGG_LOG_LEVEL is: httpx logs URLs
# with the bot token, python-telegram-bot logs whole updates (ids, names, texts) at DEBUG, and
# aiosqlite logs query parameters at DEBUG.
_CAPPED_LOGGERS = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "aiohttp": logging.WARNING,  # the Bot API client (http_client.py); URLs carry the token
    "aiosqlite": logging.WARNING,
    "apscheduler": logging.WARNING,
    "telegram": logging.INFO,
    "telegram.request": logging.CRITICAL,  # a 502 page: logged with a traceback and the page
}


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MASK = "********"


class RedactingFormatter(logging.Formatter):
    """Formats a record, traceback included, then masks every secret in the text.

    A second line of defence for the bot token: python-telegram-bot puts it in the message of
    `InvalidToken` ("The token `...` was rejected by the server"), which its retry loop logs at
    ERROR, and in the repr of every `Bot`.
    """

    def __init__(self, fmt: str, secrets: Sequence[str]) -> None:
        super().__init__(fmt)
        # Longest first, so that a whole token is masked before a part of it.
        self._secrets = sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text


def token_secrets(settings: Settings) -> list[str]:
    """The token, and its part after the colon (the part before it is the bot's public id)."""
    if settings.token is None:
        return []
    token = settings.token.reveal()
    return [token, token.partition(":")[2]]


def configure_logging(level: str, secrets: Sequence[str] = ()) -> None:
    """Log to stderr at `level`; only trygg's own loggers go below INFO; `secrets` are masked."""
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr)
    logging.getLogger().setLevel(level)
    if secrets:
        for handler in logging.getLogger().handlers:
            handler.setFormatter(RedactingFormatter(LOG_FORMAT, secrets))
    for name, floor in _CAPPED_LOGGERS.items():
        logging.getLogger(name).setLevel(max(floor, logging.getLevelName(level)))


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as error:
        for problem in error.problems:
            print(f"trygg: {problem}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_run(args: argparse.Namespace) -> int:
    """Run the bot against Telegram; without a token, explain and offer the terminal chat."""
    settings = _settings_or_exit()
    configure_logging(settings.log_level, token_secrets(settings))
    if settings.token is None:
        print(NO_TOKEN_HELP, file=sys.stderr)
        if sys.stdin.isatty() and not args.no_chat:
            print("Starting the terminal chat with the example routine (Ctrl-D ends it).\n")
            from bot.devchat.chat import run_chat

            return asyncio.run(
                run_chat(settings, org="solvik", lang=DEFAULT_LANGUAGE, role="member")
            )
        return 2
    from bot.app import build_application

    app = build_application(settings)
    allowed = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY]
    # python-telegram-bot retries an unreachable Telegram in silence (its log is DEBUG): without
    # this line an operator would stare at an empty terminal and not know what it waits for.
    log.info(
        "connecting to %s; until it answers, the bot keeps trying (quietly, 1-30 s apart)",
        "the Bot API at TRYGG_API_URL" if settings.api_url else "Telegram",
    )
    try:
        if settings.webhook_url is not None:
            _run_webhook(app, settings, allowed)
        else:
            app.run_polling(
                allowed_updates=allowed,
                close_loop=False,
                # Telegram unreachable at start (an outage, a network not up yet after a
                # reboot): keep trying, 1 s apart and then longer, at most 30 s, not exit.
                bootstrap_retries=-1,
            )
    except InvalidToken:  # its message quotes the token: say what to do instead
        print(TOKEN_REFUSED, file=sys.stderr)
        return 2
    return 0


def _run_webhook(app: TryggApp, settings: Settings, allowed: list[str]) -> None:
    """Telegram posts updates to TRYGG_WEBHOOK_URL (the reverse proxy), which passes them to
    TRYGG_WEBHOOK_LISTEN. Only posts with the secret token in their header are taken: the
    webhook server of python-telegram-bot answers others 403 before they reach a handler."""
    import secrets
    from urllib.parse import urlsplit

    assert settings.webhook_url is not None
    secret = (
        settings.webhook_secret.reveal() if settings.webhook_secret else secrets.token_urlsafe(32)
    )
    host, port = settings.webhook_listen
    path = urlsplit(settings.webhook_url).path.strip("/")
    log.info("webhook mode: Telegram posts to the proxy, which passes on to %s:%d", host, port)
    app.run_webhook(
        listen=host,
        port=port,
        url_path=path,
        webhook_url=settings.webhook_url,
        secret_token=secret,
        allowed_updates=allowed,
        close_loop=False,
        bootstrap_retries=-1,
    )


def cmd_check(args: argparse.Namespace) -> int:
    """Check routine files; print every problem as path:line:column: key.path: message."""
    routines_dir = Path(args.routines or os.environ.get("TRYGG_ROUTINES") or "routines")
    paths = [Path(p) for p in args.paths] or [routines_dir]
    missing = [p for p in paths if not p.exists()]
    # Everything on stdout, in order: problems, warnings, then the verdict.
    for path in missing:
        print(f"{path}: no such file or directory")
    loaded: list[Routine] = []
    problems = check_paths([p for p in paths if p.exists()], routines_dir, loaded)
    for problem in problems:
        print(problem)
    warnings = [w for routine in loaded for w in routine_warnings(routine)]
    for warning in warnings:
        print(warning)
    if problems or missing:
        return 1
    counted = f" ({len(warnings)} warning{'s' if len(warnings) != 1 else ''})" if warnings else ""
    print(f"ok: {', '.join(str(p) for p in paths)}{counted}")
    return 0  # warnings are advice: the file works


def routine_warnings(routine: Routine) -> list[str]:
    """What loads but will likely let someone down: reports to nobody, hours with no one after."""
    where = str(routine.source or routine.id)
    found: list[str] = []
    if not routine.receiving_contacts():
        found.append(
            f"{where}: warning: no contact has receives_reports: true, so reports reach nobody"
        )
    for contact in routine.contacts.values():
        if contact.hours is not None and contact.after_hours is None:
            found.append(
                f"{where}: warning: contacts.{contact.id} has hours but no after_hours: outside "
                "them the answer names nobody of yours to call"
            )
    return found


def parse_expiry(text: str) -> timedelta:
    """A duration as routine files write them (`30d`, `1mo`; a month is 30 days here)."""
    if text.strip().startswith("-"):
        raise argparse.ArgumentTypeError(
            f"{text!r} is negative: --expires must be a duration such as 30d"
        )
    try:
        return parse_duration(text).as_timedelta()
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


async def _bot_username(settings: Settings) -> str | None:
    if settings.token is None:
        return None
    base_url = settings.api_url or "https://api.telegram.org/bot"
    try:
        async with Bot(settings.token.reveal(), base_url=base_url) as bot:
            return bot.username
    except TelegramError as error:
        print(
            f"trygg: could not ask Telegram for the bot's name ({type(error).__name__})",
            file=sys.stderr,
        )
        return None


async def _invite(args: argparse.Namespace, settings: Settings) -> int:
    if args.role == "national":  # statistics of every organisation; belongs to none
        if args.org is not None or args.contact is not None:
            print("trygg: the national role has no --org or --contact", file=sys.stderr)
            return 2
        args.org = NATIONAL_ORG
        return await _store_invite(args, settings, None)
    if args.org is None:
        print("trygg: --org is needed for members and coordinators", file=sys.stderr)
        return 2
    registry = RoutineRegistry(settings.routines_dir)
    registry.reload()
    routine = registry.get(args.org)
    if routine is None:
        known = ", ".join(r.id for r in registry.organisations()) or "none"
        print(f"trygg: no organisation {args.org!r} is loaded (known: {known})", file=sys.stderr)
        return 2
    contact = args.contact
    if args.role == "coordinator":
        # Always named: what a coordinator may read follows from the contact (least privilege).
        if contact is None or contact not in routine.contacts:
            print(
                f"trygg: a coordinator is bound to a contact of {args.org}: --contact is one of "
                f"{', '.join(routine.contacts)}",
                file=sys.stderr,
            )
            return 2
        _warn_if_receives_nothing(routine, contact)
    elif contact is not None:
        print("trygg: --contact is only for coordinators", file=sys.stderr)
        return 2
    return await _store_invite(args, settings, contact)


def _warn_if_receives_nothing(routine: Routine, contact: str) -> None:
    """A coordinator sees only the reports their contact receives: say so when that is none."""
    receiving = [c.id for c in routine.receiving_contacts()]
    if contact in receiving:
        return
    if contact in routine.reminders.escalate_to:
        print(
            f"trygg: warning: {contact} does not receive reports; this coordinator sees only"
            " reports escalated to it (reminders.escalate_to)",
            file=sys.stderr,
        )
        return
    print(
        f"trygg: warning: {contact} receives nothing: this coordinator will see no report"
        f" (contacts with receives_reports: {', '.join(receiving) or 'none'})",
        file=sys.stderr,
    )


async def _store_invite(args: argparse.Namespace, settings: Settings, contact: str | None) -> int:
    data_dir = prepare_data_dir(settings.data_dir, settings.key_file)
    async with await open_database(data_dir) as db:
        from bot.app import utc_now

        service = InviteService(db, data_dir.secret_key, utc_now)
        code = await service.create(args.org, Role(args.role), contact, args.uses, args.expires)
    username = await _bot_username(settings)
    print(deep_link(username or "YOUR_BOT", code))
    print(f"(to try it offline: trygg chat --invite {code})", file=sys.stderr)
    if username is None:
        print("(set TELEGRAM_BOT_TOKEN to fill in the bot's username)", file=sys.stderr)
    return 0


def cmd_invite(args: argparse.Namespace) -> int:
    """Create an invite link for an organisation and role."""
    settings = _settings_or_exit()
    configure_logging("WARNING")
    return asyncio.run(_invite(args, settings))


def cmd_chat(args: argparse.Namespace) -> int:
    """Talk to the bot's real handlers in the terminal, offline."""
    settings = _settings_or_exit()
    configure_logging("WARNING")
    from bot.app import utc_now
    from bot.devchat.chat import run_chat

    if args.invite is not None and args.org is not None:
        print("trygg: --invite joins the invite's organisation; leave out --org", file=sys.stderr)
        return 2
    data_dir = Path(args.data) if args.data else None
    if args.invite is not None and data_dir is None:
        data_dir = settings.data_dir  # where `trygg invite` stored it
    if data_dir is not None and not (data_dir / "trygg.sqlite3").exists():
        print(f"trygg: no database in {data_dir} (run trygg invite there first)", file=sys.stderr)
        return 2
    if data_dir is not None:
        print(f"(chatting on the database in {data_dir}, as a test user)", file=sys.stderr)
    clock = utc_now
    if args.at is not None:  # the clock starts there and runs on, as the bot's would
        offset = args.at - utc_now()
        clock = lambda: utc_now() + offset  # noqa: E731
    return asyncio.run(
        run_chat(
            settings,
            org=args.org,
            lang=args.lang,
            role=args.role,
            data_dir=data_dir,
            invite=args.invite,
            clock=clock,
            out=sys.stdout,
        )
    )


def _moment(text: str) -> datetime:
    """`--at`: an ISO date and time, on the Swedish clock unless it names its own offset."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date and time: write it as YYYY-MM-DDTHH:MM, e.g. 2026-12-05T22:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("Europe/Stockholm"))
    return moment


def _png_paths(path: Path, org_ids: Sequence[str]) -> dict[str, Path]:
    """Where `--png` writes: the file itself for one organisation, `<stem>-<org><suffix>` else."""
    if len(org_ids) == 1:
        return {org_ids[0]: path}
    return {org: path.with_name(f"{path.stem}-{org}{path.suffix or '.png'}") for org in org_ids}


async def _gaps(args: argparse.Namespace, settings: Settings) -> int:
    import json
    from datetime import UTC, datetime

    from bot.health.gaps import health_report, organisation_today, registered_contacts, to_json
    from bot.health.report import render_report

    registry = RoutineRegistry(settings.routines_dir)
    registry.reload()
    for path, problems in registry.problems().items():
        print(f"trygg: {path} has {len(problems)} problem(s); see trygg check", file=sys.stderr)
    routines = registry.organisations()
    if args.org is not None:
        routines = [r for r in routines if r.id == args.org]
        if not routines:
            known = ", ".join(r.id for r in registry.organisations()) or "none"
            print(
                f"trygg: no organisation {args.org!r} is loaded (known: {known})", file=sys.stderr
            )
            return 2
    registered: dict[str, set[str]] = {r.id: set() for r in routines}
    if settings.db_path.exists():  # read only in spirit: never create a database to read it
        data_dir = prepare_data_dir(settings.data_dir, settings.key_file)
        async with await open_database(data_dir) as db:
            for routine in routines:
                registered[routine.id] = await registered_contacts(db, routine)
    else:
        print(f"trygg: no database in {settings.data_dir}: no coordinator joined", file=sys.stderr)
    now = datetime.now(UTC)
    reports = [health_report(r, registered[r.id], organisation_today(r, now)) for r in routines]
    by_org = list(zip(reports, routines, strict=True))
    if args.format == "json":
        print(json.dumps(to_json(reports), ensure_ascii=False, indent=2))
    else:
        texts = [render_report(rep, r, args.lang, markup=False) for rep, r in by_org]
        print("\n\n".join(texts))
    if args.png is not None:
        from bot.health.heatmap import render_heatmap

        targets = _png_paths(Path(args.png), [r.id for r in routines])
        for report in reports:
            targets[report.org_id].write_bytes(render_heatmap(report, args.lang))
            print(f"trygg: wrote {targets[report.org_id]}", file=sys.stderr)
    return 0  # gaps are findings, not errors


def cmd_gaps(args: argparse.Namespace) -> int:
    """Where each routine leaves officials alone, its review, and missing coordinators."""
    settings = _settings_or_exit()
    configure_logging("WARNING")
    return asyncio.run(_gaps(args, settings))


async def _existing_database(settings: Settings) -> Database | None:
    """The database, if there is one: status and purge never create one to read it."""
    if not settings.db_path.exists():
        print(f"trygg: no database in {settings.data_dir}", file=sys.stderr)
        return None
    return await open_database(prepare_data_dir(settings.data_dir, settings.key_file))


def _loaded_registry(settings: Settings) -> RoutineRegistry:
    registry = RoutineRegistry(settings.routines_dir)
    registry.reload()
    for path, problems in registry.problems().items():
        print(f"trygg: {path} has {len(problems)} problem(s); see trygg check", file=sys.stderr)
    return registry


async def _status(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reports.status import collect, render

    registry = _loaded_registry(settings)
    db = await _existing_database(settings)
    try:
        status = await collect(registry, db, args.org)
    finally:
        if db is not None:
            await db.close()
    if args.org is not None and not status.organisations:
        known = ", ".join(r.id for r in registry.organisations()) or "none"
        print(f"trygg: no organisation {args.org!r} is loaded (known: {known})", file=sys.stderr)
        return 2
    print(render(status))
    return 0  # gaps and problems are findings, not errors


def cmd_status(args: argparse.Namespace) -> int:
    """Per organisation: routine loads?, receiving contacts without a coordinator, reports."""
    settings = _settings_or_exit()
    configure_logging("WARNING")
    return asyncio.run(_status(args, settings))


async def _purge(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import utc_now
    from bot.reports.retention import purge, render

    registry = _loaded_registry(settings)
    unknown = args.org is not None and registry.get(args.org) is None
    db = await _existing_database(settings)
    if db is None:
        if unknown:
            known = ", ".join(r.id for r in registry.organisations()) or "none"
            print(f"trygg: no organisation {args.org!r} (known: {known})", file=sys.stderr)
            return 2
        print("nothing to purge")
        return 0
    async with db:
        if unknown:
            kept = (await db.report_orgs()).get(args.org, 0)
            known = ", ".join(r.id for r in registry.organisations()) or "none"
            print(
                f"trygg: no organisation {args.org!r} is loaded (known: {known})"
                + (f"; its {kept} report(s) are kept: its retention is unknown" if kept else ""),
                file=sys.stderr,
            )
            return 2
        result = await purge(db, registry, utc_now(), org_id=args.org, dry_run=args.dry_run)
    print(render(result))
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    """Delete reports older than their organisation's retention, from the file too."""
    settings = _settings_or_exit()
    configure_logging("WARNING")
    return asyncio.run(_purge(args, settings))


def cmd_redact(args: argparse.Namespace) -> int:
    """Read text on standard input and print it anonymised, line for line."""
    import io

    from bot.reports.anonymise import redact_lines

    stdin, stdout = sys.stdin, sys.stdout
    if isinstance(stdin, io.TextIOWrapper):  # UTF-8 whatever the locale; keep \r\n as it is
        stdin.reconfigure(encoding="utf-8", errors="replace", newline="")
    if isinstance(stdout, io.TextIOWrapper):
        stdout.reconfigure(encoding="utf-8", errors="replace")
    try:
        for line in redact_lines(stdin):
            stdout.write(line)
            stdout.flush()  # as each line is read: it also works typed by hand
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `trygg redact < file | head`: the reader left, nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), stdout.fileno())
        return 1
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    """Anonymised statistics of one organisation, or of all (per organisation and total)."""
    settings = _settings_or_exit()
    configure_logging("WARNING")
    from bot.stats.cli import stats

    return asyncio.run(stats(args, settings))


def cmd_export(args: argparse.Namespace) -> int:
    """An organisation's reports, one per row (CSV), or with the summary (XLSX)."""
    settings = _settings_or_exit()
    configure_logging("WARNING")
    from bot.stats.cli import export

    return asyncio.run(export(args, settings))


def cmd_remind(args: argparse.Namespace) -> int:
    """Queue the routine digest to every member of an organisation; the running bot sends it."""
    settings = _settings_or_exit()
    configure_logging("WARNING")
    from bot.reminders.cli import remind

    return asyncio.run(remind(args.org, settings))


async def _members(args: argparse.Namespace, settings: Settings) -> int:
    from bot.members import MemberRow, list_members, render

    registry = _loaded_registry(settings)
    routine = registry.get(args.org)
    db = await _existing_database(settings)
    rows: list[MemberRow] = []
    if db is not None:
        async with db:
            key = prepare_data_dir(settings.data_dir, settings.key_file).secret_key
            rows = await list_members(db, registry, key, args.org)
    if routine is None and not rows and args.org != NATIONAL_ORG:  # a typo, not an empty org
        known = ", ".join(r.id for r in registry.organisations()) or "none"
        print(f"trygg: no organisation {args.org!r} is loaded (known: {known})", file=sys.stderr)
        return 2
    print(render(args.org, routine.organisation.name if routine else None, rows))
    return 0


def cmd_members(args: argparse.Namespace) -> int:
    """An organisation's members, pseudonymously: handle, role, contact, month joined."""
    settings = _settings_or_exit()
    configure_logging("WARNING")
    return asyncio.run(_members(args, settings))


async def _revoke(args: argparse.Namespace, settings: Settings) -> int:
    from bot.members import find, revoke

    registry = _loaded_registry(settings)
    db = await _existing_database(settings)
    if db is None:
        return 2
    orgs = [args.org] if args.org else [r.id for r in registry.organisations()] + [NATIONAL_ORG]
    async with db:
        key = prepare_data_dir(settings.data_dir, settings.key_file).secret_key
        found = await find(db, key, orgs, args.handle)
        if found is None:
            print(
                f"trygg: no member with handle {args.handle!r}"
                f" in {', '.join(orgs)}; `trygg members --org ID` lists them",
                file=sys.stderr,
            )
            return 2
        await revoke(db, key, found)
    contact = f", contact {found.contact_id}" if found.contact_id else ""
    print(
        f"revoked {args.handle.upper()} ({found.role} of {found.org_id}{contact}): membership,"
        " draft, replies being written and queued messages removed, at once"
    )
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    """Remove a member or coordinator at once, with their pending inputs and access."""
    settings = _settings_or_exit()
    configure_logging("WARNING")
    return asyncio.run(_revoke(args, settings))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trygg", description="Support for elected officials who are threatened or worried."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the bot (terminal chat when no token is set)")
    run.add_argument("--no-chat", action="store_true", help="never start the terminal chat")
    run.set_defaults(func=cmd_run)

    check = sub.add_parser("check", help="check routine files and print every error")
    check.add_argument("paths", nargs="*", help="files or directories (default: the routines)")
    check.add_argument(
        "--routines", help="directory with _national.yaml (default: $TRYGG_ROUTINES or routines)"
    )
    check.set_defaults(func=cmd_check)

    chat = sub.add_parser("chat", help="talk to the bot in the terminal, no network")
    chat.add_argument("--org", help="join this organisation first")
    chat.add_argument("--lang", choices=LANGUAGES, default=DEFAULT_LANGUAGE)
    chat.add_argument("--role", choices=["member", "coordinator"], default="member")
    chat.add_argument(
        "--data", metavar="DIR", help="use this data directory instead of a temporary one"
    )
    chat.add_argument(
        "--invite",
        metavar="CODE",
        help="join with this invite code (from trygg invite; uses $TRYGG_DATA_DIR unless --data)",
    )
    chat.add_argument(
        "--at",
        type=_moment,
        metavar="YYYY-MM-DDTHH:MM",
        help="start the clock at this moment (Swedish time), to see who can be reached then",
    )
    chat.set_defaults(func=cmd_chat)

    invite = sub.add_parser("invite", help="create an invite link")
    invite.add_argument("--org", help="the organisation (not for --role national)")
    invite.add_argument("--role", choices=["member", "coordinator", "national"], required=True)
    invite.add_argument("--contact", help="the contact a coordinator is bound to")
    invite.add_argument(
        "--uses",
        type=int,
        default=None,
        help="how many may join (default: unlimited for members, 1 for coordinators)",
    )
    invite.add_argument(
        "--expires",
        type=parse_expiry,
        default=timedelta(days=30),
        help="how long the link works: s, m, h, d, w or mo, e.g. 7d or 1mo (default 30d)",
    )
    invite.set_defaults(func=cmd_invite)

    gaps = sub.add_parser("gaps", help="where the routines leave officials alone (exit 0)")
    gaps.add_argument("--org", help="only this organisation (default: every one)")
    gaps.add_argument("--format", choices=["text", "json"], default="text")
    gaps.add_argument(
        "--lang", choices=LANGUAGES, default=DEFAULT_LANGUAGE, help="language of text and PNG"
    )
    gaps.add_argument("--png", metavar="FILE", help="also draw the week as a heatmap per situation")
    gaps.set_defaults(func=cmd_gaps)

    remind = sub.add_parser("remind", help="queue the routine digest to every member now")
    remind.add_argument("--org", required=True, help="the organisation whose members get it")
    remind.set_defaults(func=cmd_remind)

    status = sub.add_parser(
        "status", help="per organisation: routine, coordinators missing, open reports (exit 0)"
    )
    status.add_argument("--org", help="only this organisation (default: every one)")
    status.set_defaults(func=cmd_status)

    purge = sub.add_parser("purge", help="delete reports older than each routine's retention")
    purge.add_argument("--org", help="only this organisation's reports")
    purge.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    purge.set_defaults(func=cmd_purge)

    redact = sub.add_parser("redact", help="anonymise text on stdin, line for line, to stdout")
    redact.set_defaults(func=cmd_redact)

    from bot.stats.cli import add_export_arguments, add_stats_arguments

    stats = sub.add_parser("stats", help="anonymised statistics (counts below 3 as <3)")
    add_stats_arguments(stats)
    stats.set_defaults(func=cmd_stats)

    export = sub.add_parser("export", help="an organisation's reports as CSV or XLSX")
    add_export_arguments(export)
    export.set_defaults(func=cmd_export)

    members = sub.add_parser("members", help="an organisation's members, by handle, never by id")
    members.add_argument("--org", required=True, help="the organisation")
    members.set_defaults(func=cmd_members)

    revoke = sub.add_parser("revoke", help="remove a member or coordinator at once")
    revoke.add_argument("handle", help="the handle `trygg members` shows, e.g. M-ABCD2345")
    revoke.add_argument("--org", help="look only in this organisation")
    revoke.set_defaults(func=cmd_revoke)

    keygen = sub.add_parser("keygen", help="create a new secret key file (never overwrites)")
    keygen.add_argument("file", help="where to write it, outside the data directory")
    keygen.set_defaults(func=cmd_keygen)

    backup = sub.add_parser("backup", help="a consistent copy of the database (never the key)")
    backup.add_argument("--out", required=True, metavar="FILE", help="the copy to write")
    backup.set_defaults(func=cmd_backup)

    restore = sub.add_parser("restore", help="put a backup in place (the bot stopped)")
    restore.add_argument(
        "--from", dest="source", required=True, metavar="FILE", help="a file from trygg backup"
    )
    restore.add_argument("--force", action="store_true", help="replace an existing database")
    restore.set_defaults(func=cmd_restore)
    return parser


def cmd_keygen(args: argparse.Namespace) -> int:
    """A new 32-byte key, owner-only, for TRYGG_KEY_FILE or a systemd credential."""
    path = Path(args.file)
    create_key_file(path)
    print(f"wrote a new secret key to {path}; set TRYGG_KEY_FILE={path}")
    print("keep a copy apart from the database backups (docs/deploy.md)", file=sys.stderr)
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """A consistent copy of the database, also while the bot runs; the key is not in it."""
    from bot.backup import backup

    settings = _settings_or_exit()
    configure_logging("WARNING")
    size = backup(settings.db_path, Path(args.out))
    print(f"wrote {args.out} ({size} bytes); the key is not in it: keep that backed up apart")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Put a backup in place of the database, after checking it belongs to the loaded key."""
    from bot.backup import restore
    from bot.datadir import locate_key

    settings = _settings_or_exit()
    configure_logging("WARNING")
    key_path, _ = locate_key(settings.data_dir, settings.key_file)
    if not key_path.exists():
        print(
            f"trygg: no secret key at {key_path}. Restore the key first (TRYGG_KEY_FILE): "
            "without it nothing sealed in the backup can be read",
            file=sys.stderr,
        )
        return 2
    data_dir = prepare_data_dir(settings.data_dir, settings.key_file)
    restore(Path(args.source), data_dir.db_path, data_dir.secret_key, force=args.force)
    print(f"restored {args.source} to {data_dir.db_path}; start the bot")
    return 0


def _glue_negative_expiry(argv: Sequence[str] | None) -> list[str]:
    """`--expires -5d` as `--expires=-5d`: argparse takes "-5d" for an option and says only
    "expected one argument"; glued, the value reaches `parse_expiry`, which says what is wrong."""
    given = list(sys.argv[1:] if argv is None else argv)
    glued: list[str] = []
    index = 0
    while index < len(given):
        arg = given[index]
        following = given[index + 1] if index + 1 < len(given) else ""
        if arg == "--expires" and following.startswith("-") and following[1:2].isdigit():
            glued.append(f"--expires={following}")
            index += 2
            continue
        glued.append(arg)
        index += 1
    return glued


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; errors an operator can cause end as one line and exit code 1 or 2."""
    # python-telegram-bot 22 warns when it builds a RetryAfter unless durations are timedeltas;
    # the process opts in where it starts, not as a side effect of importing `bot`.
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    try:
        return _main(argv)
    except KeyboardInterrupt:
        return 130
    except (DataDirError, MigrationError, StorageError, ListenError) as error:
        # A wrong or missing key, an unusable folder, backup or database: messages written
        # for the operator, naming files and versions, never data.
        print(f"trygg: {error}", file=sys.stderr)
        return 2
    except ConfigError as error:  # found after the settings were read (TRYGG_FAKE_NOW)
        for problem in error.problems:
            print(f"trygg: {problem}", file=sys.stderr)
        return 2
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        print(f"trygg: {where}{error.strerror or error}", file=sys.stderr)
        return 1
    except Exception as error:
        # The message may quote data; only the kind is shown, the traceback at DEBUG.
        if os.environ.get("TRYGG_LOG_LEVEL", "").strip().upper() == "DEBUG":
            import traceback

            traceback.print_exc()
        print(
            f"trygg: failed ({type(error).__name__}); TRYGG_LOG_LEVEL=DEBUG shows where. "
            "Is the database in use or damaged? See docs/deploy.md",
            file=sys.stderr,
        )
        return 1


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(_glue_negative_expiry(argv))
    if getattr(args, "uses", None) is None and getattr(args, "role", None) in (
        "coordinator",
        "national",
    ):
        args.uses = 1
    if getattr(args, "uses", None) is not None and args.uses < 1:
        print("trygg: --uses must be at least 1", file=sys.stderr)
        return 2
    try:
        result: int = args.func(args)
    except (DataDirError, StorageError, MigrationError) as error:
        # Written for the operator (a wrong key, a database of a newer bot): the message is the
        # answer, a traceback would only hide it.
        print(f"trygg: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a path given (--out, --png, the data directory) that cannot be used
        where = f"{error.filename}: " if error.filename else ""
        print(f"trygg: {where}{error.strerror or error}", file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    raise SystemExit(main())
