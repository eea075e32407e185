"""Reports, drafts, the links to reporters and pending inputs."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from bot.storage.core import (
    _opt_db_day,
    _opt_time,
    from_db_time,
    to_db_day,
    to_db_time,
)
from bot.storage.inline import every, one, run
from bot.storage.outbox import OutboxQueries
from bot.storage.records import (
    Draft,
    DuplicateReference,
    OutboxItem,
    Report,
    State,
)

# `created_at` is stored as the day; while a report waits for acknowledgement, `ack_from` holds
# the moment the reminder counts from, and reads back as its creation time.
_REPORT_FIELDS = (
    "id, ref, org_id, type, channel, month, repeated, perpetrator, police, impacts, gender,"
    " description, contact_me, state, {p}created_at, acknowledged_at, acknowledged_by,"
    " closed_at, reminded_at, escalated_at, repeated_code, month_code"
)
_REPORT_COLUMNS = _REPORT_FIELDS.replace(
    "{p}created_at", "COALESCE(ack_from, created_at) AS created_at"
)
_REPORT_COLUMNS_R = ", ".join(
    f"r.{c.strip()}" for c in _REPORT_FIELDS.replace("{p}", "").split(",") if c.strip()
).replace("r.created_at", "COALESCE(r.ack_from, r.created_at) AS created_at")

# ON CONFLICT (ref) DO NOTHING rather than catching IntegrityError: only a taken reference is
# "retry with another", every other constraint failure stays an error.
_INSERT_REPORT = f"""
INSERT INTO reports (ref, org_id, type, channel, month, repeated, perpetrator, police, impacts,
                     gender, description, contact_me, state, created_at, acknowledged_at,
                     acknowledged_by, closed_at, reminded_at, escalated_at, ack_from,
                     repeated_code, month_code)
VALUES (:ref, :org_id, :type, :channel, :month, :repeated, :perpetrator, :police, :impacts,
        :gender, :description, :contact_me, :state, :created_at, :acknowledged_at,
        :acknowledged_by, :closed_at, :reminded_at, :escalated_at, :ack_from, :repeated_code,
        :month_code)
ON CONFLICT (ref) DO NOTHING
RETURNING {_REPORT_COLUMNS}
"""

_INSERT_LINK = """
INSERT INTO report_links (report_id, owner_tag, chat_sealed, shared, created_at)
VALUES (:report_id, :owner_tag, :chat_sealed, 0, :day)
"""

# Reminder period keys name a report by its reference (`ack:R-ABC123:1`, `followup:R-ABC123`).
_FORGET_REPORT_REMINDERS = """
DELETE FROM reminders_sent
WHERE instr(key, ':' || :ref || ':') > 0 OR substr(key, -length(:ref) - 1) = ':' || :ref
"""

# What a reporter's owner tag keys: their links and pending inputs, and the messages still
# queued to them (they could not be delivered without the link anyway). The key of a pending
# input may carry a prefix ("r:<tag>"), so keys ending in ":<tag>" are theirs too.
# Every message about their linked reports goes, whoever it was queued to: an answer they
# relayed or their identity, still waiting for a coordinator's chat, must not arrive after
# "forgotten".
_FORGET_OWNER_OUTBOX = """
DELETE FROM outbox
WHERE report_id IN (SELECT report_id FROM report_links WHERE owner_tag = :tag)
"""
_FORGET_OWNER_PENDING = """
DELETE FROM pending_inputs
WHERE key = :tag OR substr(key, -length(:tag) - 1) = ':' || :tag
"""
_FORGET_OWNER_LINKS = "DELETE FROM report_links WHERE owner_tag = :tag"
# Follow-up keys (`followup:R-ABC123:2d`) say that the reporter wanted contact: they go. The
# acknowledgement keys belong to the report, which stays: without them its reminders would repeat.
_FORGET_OWNER_REMINDERS = """
DELETE FROM reminders_sent
WHERE key GLOB 'followup:*' AND EXISTS (
    SELECT 1 FROM report_links l JOIN reports r ON r.id = l.report_id
    WHERE l.owner_tag = :tag AND substr(reminders_sent.key, 10, length(r.ref) + 1) = r.ref || ':'
)
"""


def _report(row: sqlite3.Row) -> Report:
    impacts: str = row["impacts"]
    return Report(
        id=int(row["id"]),
        ref=row["ref"],
        org_id=row["org_id"],
        type=row["type"],
        channel=row["channel"],
        month=row["month"],
        repeated=bool(row["repeated"]),
        perpetrator=row["perpetrator"],
        police=row["police"],
        impacts=tuple(impacts.split(",")) if impacts else (),
        gender=row["gender"],
        description=row["description"],
        contact_me=bool(row["contact_me"]),
        state=State(row["state"]),
        created_at=from_db_time(row["created_at"]),
        acknowledged_at=_opt_time(row["acknowledged_at"]),
        acknowledged_by=row["acknowledged_by"],
        closed_at=_opt_time(row["closed_at"]),
        reminded_at=_opt_time(row["reminded_at"]),
        escalated_at=_opt_time(row["escalated_at"]),
        repeated_code=row["repeated_code"],
        month_code=row["month_code"],
    )


def _report_params(report: Report) -> dict[str, Any]:
    for code in report.impacts:
        if not code or "," in code:
            raise ValueError(f"impact code {code!r} cannot be stored")
    return {
        "ref": report.ref,
        "org_id": report.org_id,
        "type": report.type,
        "channel": report.channel,
        "month": report.month,
        "repeated": int(report.repeated),
        "perpetrator": report.perpetrator,
        "police": report.police,
        "impacts": ",".join(report.impacts),
        "gender": report.gender,
        "description": report.description,
        "contact_me": int(report.contact_me),
        "state": State(report.state).value,
        "created_at": to_db_day(report.created_at),
        "ack_from": to_db_time(report.created_at) if State(report.state) is State.NEW else None,
        # What happened to a report later is kept by the day: only "whether" is ever asked.
        "acknowledged_at": _opt_db_day(report.acknowledged_at),
        "acknowledged_by": report.acknowledged_by,
        "closed_at": _opt_db_day(report.closed_at),
        "reminded_at": _opt_db_day(report.reminded_at),
        "escalated_at": _opt_db_day(report.escalated_at),
        "repeated_code": report.repeated_code,
        "month_code": report.month_code,
    }


def _draft_data(draft: Draft) -> str:
    return json.dumps(
        {"values": draft.values, "editing": draft.editing},
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
    )


def _draft(row: sqlite3.Row) -> Draft:
    data = json.loads(row["data"])
    return Draft(
        org_id=row["org_id"],
        step=row["step"],
        values=dict(data.get("values") or {}),
        editing=bool(data.get("editing", False)),
    )


class ReportQueries(OutboxQueries):
    """A report's life as stored: draft, report, link to the reporter, pending input."""

    # --- drafts ------------------------------------------------------------------------------

    async def get_draft(self, user_id: int) -> Draft | None:
        """The user's report under way, or None."""
        row = await self._query(
            lambda conn: one(
                conn,
                "SELECT org_id, step, data FROM drafts WHERE member_key = :member_key",
                {"member_key": self._key(user_id)},
            )
        )
        return None if row is None else _draft(row)

    async def save_draft(self, user_id: int, draft: Draft, now: datetime) -> None:
        """Store the draft (after every step), replacing the user's earlier one.

        Its values must be JSON and its description already redacted: this is on disk.
        """
        params = {
            "member_key": self._key(user_id),
            "org_id": draft.org_id,
            "step": draft.step,
            "data": _draft_data(draft),
            "now": to_db_day(now),
        }
        await self._transact(
            lambda conn: run(
                conn,
                "INSERT INTO drafts (member_key, org_id, step, data, updated_at)"
                " VALUES (:member_key, :org_id, :step, :data, :now)"
                " ON CONFLICT (member_key) DO UPDATE SET org_id = excluded.org_id,"
                " step = excluded.step, data = excluded.data, updated_at = excluded.updated_at",
                params,
            )
        )

    async def delete_draft(self, user_id: int) -> None:
        """Drop the user's draft, if any, from the file too."""
        count = await self._transact(
            lambda conn: run(
                conn,
                "DELETE FROM drafts WHERE member_key = :member_key",
                {"member_key": self._key(user_id)},
            )
        )
        if count:
            await self.checkpoint()

    async def purge_drafts(self, updated_before: datetime) -> int:
        """Delete drafts left untouched since before `updated_before`; return how many."""
        count = await self._transact(
            lambda conn: run(
                conn,
                "DELETE FROM drafts WHERE updated_at < :before",
                {"before": to_db_time(updated_before)},
            ),
            off_loop=True,  # retention: any number of rows, and no one waits for it
        )
        if count:
            await self.checkpoint()
        return count

    # --- reports -----------------------------------------------------------------------------

    async def submit_report(
        self,
        report: Report,
        link: tuple[str, bytes] | None,
        notifications: Sequence[OutboxItem],
        draft_user_id: int,
        now: datetime,
        receipt: tuple[int, bytes] | None = None,
        lang_sealed: bytes | None = None,
    ) -> Report:
        """Store a report, its link, its notifications, and drop the draft, in ONE transaction.

        `receipt`: `(update_id, sealed reference)` kept until that update leaves the inbox, so
        the update handled again after a crash can show the reference (`receipt_of`).
        `lang_sealed`: the reporter's language, kept with the link for follow-ups and relays.

        Either all of it happens or none: a failure leaves no report, nothing queued and the
        draft as it was, so the reporter can press Send again. `report.ref` is used as given;
        `DuplicateReference` if it is taken (draw a new one and retry). `link` is
        `(owner_tag, sealed chat)` and is only accepted for a report with `contact_me`.

        Every notification is tied to the new report (`report_id`), so deleting the report
        deletes what is still queued about it; one with `to_reporter` goes to the linked chat.
        Returns the stored report with its id.
        """
        if link is not None and not report.contact_me:
            raise ValueError("a chat is only kept for a reporter who asked to be contacted")
        params = _report_params(report)
        stamp = to_db_time(now)

        def body(conn: sqlite3.Connection) -> Report:
            row = one(conn, _INSERT_REPORT, params)
            if row is None:
                raise DuplicateReference(report.ref)
            stored = _report(row)
            if link is not None:
                owner_tag, chat_sealed = link
                run(
                    conn,
                    _INSERT_LINK,
                    {
                        "report_id": stored.id,
                        "owner_tag": owner_tag,
                        "chat_sealed": bytes(chat_sealed),
                        "day": to_db_day(now),
                    },
                )
            for item in notifications:
                self._enqueue(conn, item, stored.id, stamp)
            run(
                conn,
                "DELETE FROM drafts WHERE member_key = :member_key",
                {"member_key": self._key(draft_user_id)},
            )
            if link is not None and lang_sealed is not None:
                run(
                    conn,
                    "UPDATE report_links SET lang_sealed = :lang WHERE report_id = :id",
                    {"lang": bytes(lang_sealed), "id": stored.id},
                )
            if receipt is not None:
                run(
                    conn,
                    "INSERT OR REPLACE INTO receipts (update_id, payload) VALUES (:id, :payload)",
                    {"id": receipt[0], "payload": bytes(receipt[1])},
                )
            return stored

        stored = await self._transact(body)
        # The log still holds the draft's pages: the user id next to what they reported. The
        # checkpoint overwrites them (secure_delete) in the main file and truncates the log.
        await self.checkpoint()
        return stored

    async def get_report(self, ref: str) -> Report | None:
        row = await self._query(
            lambda conn: one(
                conn, f"SELECT {_REPORT_COLUMNS} FROM reports WHERE ref = :ref", {"ref": ref}
            )
        )
        return None if row is None else _report(row)

    async def get_report_by_id(self, report_id: int) -> Report | None:
        row = await self._query(
            lambda conn: one(
                conn, f"SELECT {_REPORT_COLUMNS} FROM reports WHERE id = :id", {"id": report_id}
            )
        )
        return None if row is None else _report(row)

    async def open_reports(self, org_id: str) -> list[Report]:
        """The organisation's reports that are not closed, newest first."""
        rows = await self._query(
            lambda conn: every(
                conn,
                f"SELECT {_REPORT_COLUMNS} FROM reports"
                " WHERE org_id = :org_id AND state != 'closed'"
                " ORDER BY created_at DESC, id DESC",
                {"org_id": org_id},
            )
        )
        return [_report(row) for row in rows]

    async def acknowledge(
        self,
        ref: str,
        contact_id: str,
        now: datetime,
        notifications: Sequence[OutboxItem] = (),
    ) -> bool:
        """Mark a NEW report acknowledged by routine contact `contact_id`.

        One conditional UPDATE: of two coordinators pressing at once exactly one gets True; a
        second press, or a press on a closed report, changes nothing and gets False. The
        `notifications` (to the other coordinators, to the reporter) are queued in the same
        transaction, so a crash right after cannot leave anyone untold.
        """

        def body(conn: sqlite3.Connection) -> bool:
            row = one(
                conn,
                "UPDATE reports SET state = 'acknowledged', acknowledged_at = :now,"
                " acknowledged_by = :contact_id, ack_from = NULL"
                " WHERE ref = :ref AND state = 'new' RETURNING id",
                {"ref": ref, "contact_id": contact_id, "now": to_db_day(now)},
            )
            if row is None:
                return False
            # One acknowledgement stops every reminder of the report at once, also those still
            # waiting for the end of quiet hours (dedupe keys of bot/reminders/jobs.py).
            run(
                conn,
                "UPDATE outbox SET dead_reason = 'acknowledged', payload = x''"
                " WHERE sent_at IS NULL AND dead_reason IS NULL"
                " AND (dedupe LIKE :ack OR dedupe LIKE :escalate)",
                {"ack": f"ack:{ref}:%", "escalate": f"escalate:{ref}:%"},
            )
            for item in notifications:
                self._enqueue(conn, item, int(row["id"]), to_db_time(now))
            return True

        return await self._transact(body)

    async def close_report(
        self, ref: str, now: datetime, notifications: Sequence[OutboxItem] = ()
    ) -> bool:
        """Close a report that is not closed yet; False if there is none or it was closed.

        The follow-up ends here, and with it the link to the reporter: pending inputs of the
        report go at once, and the link goes as soon as no message to the reporter is queued.
        To tell the reporter that the case is closed, pass the message in `notifications`
        (queued in the same transaction): the link is then released once it is sent.
        """

        def body(conn: sqlite3.Connection) -> bool:
            row = one(
                conn,
                "UPDATE reports SET state = 'closed', closed_at = :now, ack_from = NULL"
                " WHERE ref = :ref AND state != 'closed' RETURNING id",
                {"ref": ref, "now": to_db_day(now)},
            )
            if row is None:
                return False
            report_id = int(row["id"])
            # Nothing more is owed to the coordinators about a closed case: reminders and
            # relayed texts still queued to them go, with the period keys of its reminders.
            run(
                conn,
                "DELETE FROM outbox WHERE report_id = :id AND member_key IS NOT NULL",
                {"id": report_id},
            )
            run(conn, _FORGET_REPORT_REMINDERS, {"ref": ref})
            for item in notifications:
                self._enqueue(conn, item, report_id, to_db_time(now))
            run(conn, "DELETE FROM pending_inputs WHERE report_id = :id", {"id": report_id})
            self._release(conn, report_id)
            return True

        if not await self._transact(body):
            return False
        await self.checkpoint()
        return True

    async def append_description(self, ref: str, text: str, max_len: int) -> bool:
        """Add (already redacted) `text` to the report's description, on a new paragraph.

        The description never grows beyond `max_len` characters: text that does not fit is cut
        and ends with "…". False if the report does not exist, is closed, `text` is blank, or
        there is no room left at all.
        """
        text = text.strip()
        if not text:
            return False

        def body(conn: sqlite3.Connection) -> bool:
            row = one(
                conn, "SELECT id, description, state FROM reports WHERE ref = :ref", {"ref": ref}
            )
            if row is None or row["state"] == State.CLOSED.value:
                return False
            current: str = row["description"] or ""
            separator = "\n\n" if current else ""
            room = max_len - len(current) - len(separator)
            if room <= 0:
                return False
            added = text
            if len(added) > room:
                added = added[: room - 1].rstrip() + "…" if room > 1 else "…"
            run(
                conn,
                "UPDATE reports SET description = :description WHERE id = :id",
                {"id": row["id"], "description": current + separator + added},
            )
            return True

        return await self._transact(body)

    async def delete_report(self, report_id: int) -> None:
        """Delete a report with its link, pending inputs and queued messages, from the file."""

        def body(conn: sqlite3.Connection) -> None:
            row = one(conn, "DELETE FROM reports WHERE id = :id RETURNING ref", {"id": report_id})
            if row is not None:
                run(conn, _FORGET_REPORT_REMINDERS, {"ref": row["ref"]})

        await self._transact(body)
        await self.checkpoint()

    async def reports_of_owner(self, owner_tag: str) -> list[Report]:
        """The reports still linked to `owner_tag`, newest first (for /mina)."""
        rows = await self._query(
            lambda conn: every(
                conn,
                f"SELECT {_REPORT_COLUMNS_R} FROM reports r"
                " JOIN report_links l ON l.report_id = r.id"
                " WHERE l.owner_tag = :tag ORDER BY r.created_at DESC, r.id DESC",
                {"tag": owner_tag},
            )
        )
        return [_report(row) for row in rows]

    async def link_of(self, report_id: int) -> tuple[str, bytes, bool] | None:
        """`(owner_tag, sealed chat, shared)` of the report, or None if it has no link."""
        row = await self._query(
            lambda conn: one(
                conn,
                "SELECT owner_tag, chat_sealed, shared FROM report_links WHERE report_id = :id",
                {"id": report_id},
            )
        )
        if row is None:
            return None
        return row["owner_tag"], bytes(row["chat_sealed"]), bool(row["shared"])

    async def set_shared(self, report_id: int) -> None:
        """Note that the reporter chose to tell the coordinators who they are."""
        await self._transact(
            lambda conn: run(
                conn, "UPDATE report_links SET shared = 1 WHERE report_id = :id", {"id": report_id}
            )
        )

    async def remove_link(self, report_id: int) -> None:
        """End the link to the reporter: their chat is no longer stored, messages to them die."""
        await self._transact(
            lambda conn: run(
                conn, "DELETE FROM report_links WHERE report_id = :id", {"id": report_id}
            )
        )
        await self.checkpoint()

    async def forget_owner(self, owner_tag: str) -> int:
        """Delete every link and pending input of the owner, and what is queued to them.

        Returns the number of links and pending inputs deleted. Their reports stay, anonymous:
        nothing is left that leads from them to the person. Checkpoints, so it is gone from
        the file.
        """
        if not owner_tag:
            raise ValueError("an owner tag is needed")
        params = {"tag": owner_tag}

        def body(conn: sqlite3.Connection) -> int:
            run(conn, _FORGET_OWNER_OUTBOX, params)
            run(conn, _FORGET_OWNER_REMINDERS, params)
            changed = run(conn, _FORGET_OWNER_PENDING, params)
            changed += run(conn, _FORGET_OWNER_LINKS, params)
            return changed

        changed = await self._transact(body)
        await self.checkpoint()
        return changed

    # --- pending inputs ----------------------------------------------------------------------

    async def set_pending(self, key: str, action: str, report_id: int, now: datetime) -> None:
        """What the next free text under `key` is for; replaces an earlier one.

        `key` is never a reporter's plain id: use their owner tag (optionally prefixed,
        `r:<tag>`). A coordinator's key is `COORDINATOR_PENDING_PREFIX` + their user id.
        """
        await self._transact(
            lambda conn: run(
                conn,
                "INSERT INTO pending_inputs (key, action, report_id, created_at)"
                " VALUES (:key, :action, :report_id, :now)"
                " ON CONFLICT (key) DO UPDATE SET action = excluded.action,"
                " report_id = excluded.report_id, created_at = excluded.created_at",
                {
                    "key": self._pending_key(key),
                    "action": action,
                    "report_id": report_id,
                    "now": to_db_time(now),
                },
            )
        )

    async def get_pending(self, key: str) -> tuple[str, int] | None:
        """`(action, report_id)` waiting under `key`, or None."""
        row = await self._query(
            lambda conn: one(
                conn,
                "SELECT action, report_id FROM pending_inputs WHERE key = :key",
                {"key": self._pending_key(key)},
            )
        )
        return None if row is None else (row["action"], int(row["report_id"]))

    async def first_pending(self, keys: Sequence[str]) -> tuple[str, str, int] | None:
        """`(key, action, report_id)` of the first of `keys` with input waiting, in one query.

        Every plain message asks this, so one round trip instead of one per key.
        """
        stored = {self._pending_key(key): key for key in keys}
        params = {f"k{i}": key for i, key in enumerate(stored)}
        if not params:
            return None
        placeholders = ", ".join(f":{name}" for name in params)
        rows = await self._query(
            lambda conn: every(
                conn,
                f"SELECT key, action, report_id FROM pending_inputs WHERE key IN ({placeholders})",
                params,
            )
        )
        found = {stored[row["key"]]: (row["action"], int(row["report_id"])) for row in rows}
        for key in keys:
            if key in found:
                return key, *found[key]
        return None

    async def clear_pending(self, key: str) -> None:
        await self._transact(
            lambda conn: run(
                conn,
                "DELETE FROM pending_inputs WHERE key = :key",
                {"key": self._pending_key(key)},
            )
        )

    async def stage_pending(
        self, key: str, action: str, report_id: int, payload: bytes, now: datetime
    ) -> None:
        """Like `set_pending`, with a sealed `payload` kept until `take_staged` (a reporter's
        anonymised answer, shown back before it is sent)."""
        await self._transact(
            lambda conn: run(
                conn,
                "INSERT INTO pending_inputs (key, action, report_id, created_at, payload)"
                " VALUES (:key, :action, :report_id, :now, :payload)"
                " ON CONFLICT (key) DO UPDATE SET action = excluded.action,"
                " report_id = excluded.report_id, created_at = excluded.created_at,"
                " payload = excluded.payload",
                {
                    "key": self._pending_key(key),
                    "action": action,
                    "report_id": report_id,
                    "now": to_db_time(now),
                    "payload": bytes(payload),
                },
            )
        )

    async def staged(self, key: str, action: str) -> tuple[int, bytes] | None:
        """`(report_id, payload)` staged under `key` for `action`, left in place: taken with
        `consume_pending` in the transaction that queues what it says."""
        row = await self._query(
            lambda conn: one(
                conn,
                "SELECT report_id, payload FROM pending_inputs"
                " WHERE key = :key AND action = :action AND payload IS NOT NULL",
                {"key": self._pending_key(key), "action": action},
            )
        )
        return None if row is None else (int(row["report_id"]), bytes(row["payload"]))

    async def take_staged(self, key: str, action: str) -> tuple[int, bytes] | None:
        """`(report_id, payload)` staged under `key` for `action`, deleted as it is taken."""
        row = await self._transact(
            lambda conn: one(
                conn,
                "DELETE FROM pending_inputs WHERE key = :key AND action = :action"
                " AND payload IS NOT NULL RETURNING report_id, payload",
                {"key": self._pending_key(key), "action": action},
            )
        )
        return None if row is None else (int(row["report_id"]), bytes(row["payload"]))

    # --- retention ---------------------------------------------------------------------------

    async def purge_reports(self, org_id: str | None, created_before: datetime) -> int:
        """Delete the organisation's reports created before `created_before` (every
        organisation's with `org_id=None`), with their links, pending inputs and queued
        messages; return how many reports.

        Gone from the file, not only from the tables: `secure_delete` overwrites the freed
        content with zeros, and the TRUNCATE checkpoint afterwards copies the log into the main
        file and empties the -wal, where old page images would otherwise linger. `vacuum()`
        additionally rebuilds the file (and shrinks it).
        """

        def body(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            rows = every(
                conn,
                "DELETE FROM reports WHERE (:org_id IS NULL OR org_id = :org_id)"
                " AND created_at < :before RETURNING ref",
                # Reports are dated by day: one of the cutoff's day is kept until the next day.
                {"org_id": org_id, "before": to_db_day(created_before)},
            )
            for row in rows:
                run(conn, _FORGET_REPORT_REMINDERS, {"ref": row["ref"]})
            return rows

        rows = await self._transact(body, off_loop=True)  # retention: any number of reports
        await self.checkpoint()
        return len(rows)

    async def report_orgs(self) -> dict[str, int]:
        """Every organisation that has reports, with how many (also of unloaded routines)."""
        rows = await self._query(
            lambda conn: every(
                conn, "SELECT org_id, COUNT(*) FROM reports GROUP BY org_id ORDER BY org_id", {}
            )
        )
        return {row[0]: int(row[1]) for row in rows}

    async def count_reports_before(self, org_id: str | None, created_before: datetime) -> int:
        """How many reports `purge_reports` with the same arguments would delete."""
        row = await self._query(
            lambda conn: one(
                conn,
                "SELECT COUNT(*) FROM reports WHERE (:org_id IS NULL OR org_id = :org_id)"
                " AND created_at < :before",
                {"org_id": org_id, "before": to_db_day(created_before)},
            )
        )
        assert row is not None
        return int(row[0])

    async def count_drafts_before(self, updated_before: datetime) -> int:
        """How many drafts `purge_drafts` with the same argument would delete."""
        row = await self._query(
            lambda conn: one(
                conn,
                "SELECT COUNT(*) FROM drafts WHERE updated_at < :before",
                {"before": to_db_time(updated_before)},
            )
        )
        assert row is not None
        return int(row[0])

    async def link_language(self, report_id: int) -> bytes | None:
        """The reporter's sealed language kept with the link, or None."""
        row = await self._query(
            lambda conn: one(
                conn,
                "SELECT lang_sealed FROM report_links WHERE report_id = :id",
                {"id": report_id},
            )
        )
        return None if row is None or row["lang_sealed"] is None else bytes(row["lang_sealed"])

    async def consume_pending(self, key: str, items: Iterable[OutboxItem], now: datetime) -> bool:
        """Take the input waiting under `key` and queue `items`, in ONE transaction.

        False (nothing queued) when the input was taken meanwhile: a crash between the two can
        no longer lose a relayed text, nor send it twice.
        """
        stamp = to_db_time(now)

        def body(conn: sqlite3.Connection) -> bool:
            taken = run(
                conn, "DELETE FROM pending_inputs WHERE key = :key", {"key": self._pending_key(key)}
            )
            if not taken:
                return False
            for item in items:
                self._enqueue(conn, item, item.report_id, stamp)
            return True

        return await self._transact(body)
