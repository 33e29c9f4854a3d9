"""One batch of a member (customer) import: create the new, update the changed, skip the same.

A file's values win over stored ones when given (an empty cell never erases data); tags and
identities are only ever added; consent is set to the file's value (its history kept in
``consent_changes``); a note is added once (a re-import does not repeat it). A member is
"updated" only if something actually changed, so re-importing a file leaves ``updated_at``
untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.imports.identities import (
    Key,
    MemberRef,
    NewMember,
    belongs_to_another,
    identity_keys,
    lookup,
    resolve,
    systems_of,
)
from patron.imports.rows import ImportResult, MemberRow, Reason
from patron.members.models import Member, MemberConsent, MemberNote, MemberTag
from patron.members.topics import GENERAL

if TYPE_CHECKING:
    from patron.imports.bulk import BulkWriter

PROFILE = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "gender",
    "birthday",
    "address",
    "locale",
    "registered_at",
)
# Who a person is: a row found only through a weaker identity may not change these (ADR 0663).
IDENTIFYING = ("first_name", "last_name", "email", "phone", "gender", "birthday")
# Imported "accepts marketing" answers are the general marketing topic (ADR 0420): every
# marketing topic the member never answered follows it.
CONSENT_TOPIC = GENERAL
_CHUNK = 2000


@dataclass(slots=True)
class _State:
    """What we know of one member during the batch, and what the batch added to it."""

    profile: dict[str, Any]
    tags: set[str]
    consents: dict[str, bool]
    notes: set[str]
    systems: set[tuple[str, str]] = field(default_factory=set)  # (kind, namespace) known
    changed: bool = False
    new_tags: list[str] = field(default_factory=list)
    new_consents: dict[str, bool] = field(default_factory=dict)
    new_notes: list[str] = field(default_factory=list)
    new_keys: list[Key] = field(default_factory=list)


def _load_states(session: Session, merchant_id: int, ids: list[int]) -> dict[int, _State]:
    states: dict[int, _State] = {}
    cols = [getattr(Member, name) for name in PROFILE]
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for member_id, *values in session.execute(
            select(Member.id, *cols).where(Member.merchant_id == merchant_id, Member.id.in_(chunk))
        ):
            states[member_id] = _State(dict(zip(PROFILE, values, strict=True)), set(), {}, set())
        for member_id, tag in session.execute(
            select(MemberTag.member_id, MemberTag.tag).where(
                MemberTag.merchant_id == merchant_id, MemberTag.member_id.in_(chunk)
            )
        ):
            states[member_id].tags.add(tag)
        for member_id, channel, granted in session.execute(
            select(MemberConsent.member_id, MemberConsent.channel, MemberConsent.granted).where(
                MemberConsent.merchant_id == merchant_id,
                MemberConsent.member_id.in_(chunk),
                MemberConsent.topic == CONSENT_TOPIC,
            )
        ):
            states[member_id].consents[channel] = granted
        for member_id, body in session.execute(
            select(MemberNote.member_id, MemberNote.body).where(
                MemberNote.merchant_id == merchant_id,
                MemberNote.member_id.in_(chunk),
                MemberNote.channel == "import",
            )
        ):
            states[member_id].notes.add(body)
    for member_id, systems in systems_of(session, merchant_id, ids).items():
        states[member_id].systems = systems
    return states


def _differs(stored: Any, given: Any) -> bool:
    """Both known and not the same (names compared without regard to case)."""
    if stored is None or given is None:
        return False
    if isinstance(stored, str) and isinstance(given, str):
        return stored.casefold() != given.casefold()
    return bool(stored != given)


def _row_profile(row: MemberRow) -> dict[str, Any]:
    return {
        "first_name": row.first_name,
        "last_name": row.last_name,
        "email": row.email,
        "phone": row.phone,
        "gender": row.gender,
        "birthday": row.birthday,
        "address": row.address,
        "locale": row.locale,
        "registered_at": row.registered_at,
    }


class MemberBatch:
    """Applies one batch of member rows through a :class:`BulkWriter`."""

    def __init__(self, writer: BulkWriter, rows: list[MemberRow], result: ImportResult) -> None:
        self.w = writer
        self.rows = rows
        self.result = result
        self.states: dict[int, _State] = {}
        self.new_states: dict[int, _State] = {}  # keyed by id(NewMember) until ids exist
        self.new: list[NewMember] = []

    def run(self) -> None:
        w = self.w
        if w.postgres:
            w.sql.custom_plans()
        keys_by_row = [
            identity_keys(r.external_id, r.namespace, r.email, r.phone) for r in self.rows
        ]
        known = lookup(w.session, w.merchant_id, [k for keys in keys_by_row for k in keys])
        found = sorted({ref for ref in known.values() if isinstance(ref, int)})
        self.states = _load_states(w.session, w.merchant_id, found)
        for row, keys in zip(self.rows, keys_by_row, strict=True):
            self.result.read += 1
            if not keys:
                self.result.reject(
                    row.line, Reason("no customer id, email or phone to recognise them by"), row.raw
                )
                continue
            member, conflict = resolve(keys, known)
            if conflict is None and member is not None and keys[0] not in known:
                conflict = self._somebody_else(member, row, keys, known)
            if conflict:
                self.result.reject(row.line, conflict, row.raw)
                continue
            if member is None:
                member = self._new(row, keys)
                for key in keys:
                    known[key] = member
                self.result.created += 1
                continue
            state = self._state(member)
            added = False
            for key in keys:
                if key not in known:
                    known[key] = member
                    (member.keys if isinstance(member, NewMember) else state.new_keys).append(key)
                    added = state.changed = True
            if self._apply(state, row) or added:
                self.result.updated += 1
            else:
                self.result.unchanged += 1
        self._write()

    def _somebody_else(
        self, member: MemberRef, row: MemberRow, keys: list[Key], known: dict[Key, MemberRef]
    ) -> Reason | None:
        """Why ``member``, found only through a weaker identity of the row, is not the row's
        person (None: the same person, seen by a new system).

        The row is who its strongest identity says; that identity is new. The member is
        somebody else if a system already knows them under another value of that kind (another
        Shopify id, another email), or if the row contradicts who they are (name, phone…).
        """
        state = self._state(member)
        strongest = keys[0]
        systems = (
            {(k[0], k[1]) for k in member.keys} if isinstance(member, NewMember) else state.systems
        )
        contradicts = (strongest[0], strongest[1]) in systems or any(
            _differs(state.profile.get(name), getattr(row, name)) for name in IDENTIFYING
        )
        if not contradicts:
            return None
        found_by = next(k for k in keys if known.get(k) is not None)
        return belongs_to_another(found_by, member)

    def _state(self, member: MemberRef) -> _State:
        if isinstance(member, NewMember):
            return self.new_states[id(member)]
        return self.states[member]

    def _new(self, row: MemberRow, keys: list[Key]) -> NewMember:
        member = NewMember(line=row.line, source=row.source, created_at=row.created_at, keys=keys)
        state = _State(dict.fromkeys(PROFILE), set(), {}, set())
        self.new_states[id(member)] = state
        self.new.append(member)
        self._apply(state, row)
        return member

    def _apply(self, state: _State, row: MemberRow) -> bool:
        """Fold a row into a member's state; True if it changed anything."""
        before = state.changed
        state.changed = False
        for name, value in _row_profile(row).items():
            if value is not None and state.profile.get(name) != value:
                state.profile[name] = value
                state.changed = True
        for tag in row.tags:
            if tag not in state.tags:
                state.tags.add(tag)
                state.new_tags.append(tag)
                state.changed = True
        for channel, granted in row.consents.items():
            if state.consents.get(channel) != granted:
                state.consents[channel] = granted
                state.new_consents[channel] = granted
                state.changed = True
        if row.note and row.note not in state.notes:
            state.notes.add(row.note)
            state.new_notes.append(row.note)
            state.changed = True
        changed = state.changed
        state.changed = changed or before
        return changed

    def _write(self) -> None:
        w = self.w
        for member in self.new:
            profile = self.new_states[id(member)].profile
            for name in PROFILE:
                setattr(member, name, profile[name])
        w.create_members(self.new)
        pairs: list[tuple[int, _State]] = [(m.id, self.new_states[id(m)]) for m in self.new]
        changed = [(mid, s) for mid, s in self.states.items() if s.changed]
        self._update_profiles(changed)
        pairs.extend(changed)
        w.add_identities([(key, mid) for mid, s in changed for key in s.new_keys])
        self._write_extras(pairs)
        w.refresh_members({mid for mid, _s in pairs}, "customer import")

    def _update_profiles(self, changed: list[tuple[int, _State]]) -> None:
        if not changed:
            return
        table = Member.__table__
        assert isinstance(table, Table)
        now = utcnow(self.w.session)
        self.w.session.connection().execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values({name: bindparam(f"b_{name}", type_=table.c[name].type) for name in PROFILE})
            .values(updated_at=bindparam("b_updated_at", type_=table.c.updated_at.type)),
            [
                {"b_id": mid, "b_updated_at": now, **{f"b_{k}": v for k, v in s.profile.items()}}
                for mid, s in changed
            ],
        )

    def _write_extras(self, pairs: list[tuple[int, _State]]) -> None:
        w, enc = self.w, self.w.enc
        now = utcnow(w.session)
        ts = enc.ts(now)
        tags = [(mid, tag) for mid, s in pairs for tag in s.new_tags]
        tag_ids = w.sql.allocate_ids("member_tags", len(tags))
        w.sql.insert(
            "member_tags",
            ("id", "merchant_id", "member_id", "tag", "created_at"),
            [
                (tid, w.merchant_id, mid, tag, ts)
                for tid, (mid, tag) in zip(tag_ids, tags, strict=True)
            ],
        )
        notes = [(mid, body) for mid, s in pairs for body in s.new_notes]
        note_ids = w.sql.allocate_ids("member_notes", len(notes))
        w.sql.insert(
            "member_notes",
            ("id", "merchant_id", "member_id", "noted_at", "author", "channel", "body"),
            [
                (nid, w.merchant_id, mid, ts, "import", "import", body)
                for nid, (mid, body) in zip(note_ids, notes, strict=True)
            ],
        )
        self._write_consents(pairs, now)

    def _write_consents(self, pairs: list[tuple[int, _State]], now: datetime) -> None:
        w, enc = self.w, self.w.enc
        ts = enc.ts(now)
        source = f"import:{w.namespace}"
        changes = [(mid, ch, g) for mid, s in pairs for ch, g in s.new_consents.items()]
        if not changes:
            return
        existing = {(mid, ch) for mid, s in self.states.items() for ch in s.consents}
        fresh = [(mid, ch, g) for mid, ch, g in changes if (mid, ch) not in existing]
        stale = [(mid, ch, g) for mid, ch, g in changes if (mid, ch) in existing]
        cols = (
            "id",
            "merchant_id",
            "member_id",
            "channel",
            "topic",
            "granted",
            "source",
            "changed_at",
        )
        ids = w.sql.allocate_ids("member_consents", len(fresh))
        w.sql.insert(
            "member_consents",
            cols,
            [
                (cid, w.merchant_id, mid, ch, CONSENT_TOPIC, enc.flag(g), source, ts)
                for cid, (mid, ch, g) in zip(ids, fresh, strict=True)
            ],
        )
        if stale:
            table = MemberConsent.__table__
            assert isinstance(table, Table)
            w.session.connection().execute(
                update(table)
                .where(
                    table.c.member_id == bindparam("b_member"),
                    table.c.channel == bindparam("b_channel"),
                    table.c.topic == CONSENT_TOPIC,
                )
                .values(granted=bindparam("b_granted"), source=source, changed_at=now),
                [{"b_member": m, "b_channel": c, "b_granted": g} for m, c, g in stale],
            )
        change_ids = w.sql.allocate_ids("consent_changes", len(changes))
        w.sql.insert(
            "consent_changes",
            (
                "id",
                "merchant_id",
                "member_id",
                "channel",
                "topic",
                "granted",
                "source",
                "changed_at",
            ),
            [
                (cid, w.merchant_id, mid, ch, CONSENT_TOPIC, enc.flag(g), source, ts)
                for cid, (mid, ch, g) in zip(change_ids, changes, strict=True)
            ],
        )
