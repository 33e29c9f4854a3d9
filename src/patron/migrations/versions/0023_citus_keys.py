"""Keys carry the merchant: primary keys, unique constraints and foreign keys (ADR 0060)

Every merchant-scoped table gets the primary key ``(id, merchant_id)`` (PostgreSQL; SQLite keeps
``PRIMARY KEY (id)``, the rowid, and gains ``UNIQUE (id, merchant_id)``), its unique constraints
end with ``merchant_id``, and a reference to another merchant-scoped table becomes
``(x_id, merchant_id) → (id, merchant_id)``. Data stays in place: PostgreSQL alters the
constraints; SQLite rebuilds each table (its constraints cannot be altered) with foreign keys
off, which :func:`patron.core.migrate.upgrade` arranges, and checks every key at the end.

The lists below are this migration's own (not read from the models), so it does the same thing
whatever the models say later.

Revision ID: 0023_citus_keys
Revises: 0022_requestid
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import Connection

revision: str = "0023_citus_keys"
down_revision: str | Sequence[str] | None = "0022_requestid"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Primary key (id) → (id, merchant_id).
SCOPED = (
    "api_keys",
    "campaign_recipients",
    "campaigns",
    "channel_settings",
    "consent_changes",
    "consent_topics",
    "coupon_codes",
    "coupon_templates",
    "engagement_policies",
    "funnel_transitions",
    "gift_grants",
    "gift_rules",
    "idempotency_keys",
    "import_jobs",
    "import_rejects",
    "inbox_items",
    "journal_entries",
    "journey_enrolments",
    "journey_versions",
    "journeys",
    "ledger_accounts",
    "ledger_postings",
    "mall_items",
    "mall_orders",
    "member_activities",
    "member_consents",
    "member_erasures",
    "member_identities",
    "member_joins",
    "member_notes",
    "member_predictions",
    "member_tags",
    "member_tiers",
    "members",
    "message_events",
    "message_templates",
    "messages",
    "order_lines",
    "order_payments",
    "orders",
    "outbox_events",
    "points_allocations",
    "points_lots",
    "portal_codes",
    "portal_links",
    "portal_sessions",
    "portal_visits",
    "products",
    "program_rules",
    "refund_lines",
    "refunds",
    "segment_members",
    "segments",
    "staff_password_resets",
    "staff_sessions",
    "staff_users",
    "stores",
    "tier_changes",
    "top_ups",
    "webhook_attempts",
    "webhook_deliveries",
    "webhook_endpoints",
)

# Unique constraints that did not name the merchant: (table, columns before); merchant_id is
# appended, last, so every query that used the old index's leading columns still can.
UNIQUES = (
    ("api_keys", ("prefix",)),
    ("campaign_recipients", ("campaign_id", "member_id")),
    ("coupon_codes", ("template_id", "member_id", "reason_key")),
    ("gift_grants", ("rule_id", "order_id")),
    ("inbox_items", ("message_id",)),
    ("journey_enrolments", ("journey_id", "enrolment_key")),
    ("journey_versions", ("journey_id", "version")),
    ("order_lines", ("order_id", "line_no")),
    ("order_payments", ("order_id",)),
    ("portal_links", ("nonce",)),
    ("portal_sessions", ("token_hash",)),
    ("segment_members", ("segment_id", "member_id")),
    ("staff_password_resets", ("token_hash",)),
    ("staff_sessions", ("token_hash",)),
    ("webhook_deliveries", ("event_id", "endpoint_id", "replay_of_id")),
)

# (table, column, parent, ON DELETE): column → parent.id becomes
# (column, merchant_id) → parent (id, merchant_id). SET NULL clears only the column
# (PostgreSQL 15: SET NULL (column)); SQLite cannot, so there those keys stay as they are.
FOREIGN_KEYS = (
    ("campaign_recipients", "campaign_id", "campaigns", "CASCADE"),
    ("campaign_recipients", "member_id", "members", "CASCADE"),
    ("campaigns", "coupon_template_id", "coupon_templates", "SET NULL"),
    ("campaigns", "segment_id", "segments", "SET NULL"),
    ("campaigns", "template_id", "message_templates", None),
    ("consent_changes", "member_id", "members", "CASCADE"),
    ("coupon_codes", "member_id", "members", "CASCADE"),
    ("coupon_codes", "redeemed_order_id", "orders", "SET NULL"),
    ("coupon_codes", "template_id", "coupon_templates", "CASCADE"),
    ("funnel_transitions", "member_id", "members", "CASCADE"),
    ("gift_grants", "member_id", "members", "SET NULL"),
    ("gift_grants", "order_id", "orders", "SET NULL"),
    ("gift_grants", "rule_id", "gift_rules", "CASCADE"),
    ("import_file_chunks", "job_id", "import_jobs", "CASCADE"),
    ("import_jobs", "created_by", "staff_users", "SET NULL"),
    ("import_rejects", "job_id", "import_jobs", "CASCADE"),
    ("inbox_items", "member_id", "members", "CASCADE"),
    ("inbox_items", "message_id", "messages", "CASCADE"),
    ("journal_entries", "corrects_entry_id", "journal_entries", None),
    ("journal_entries", "reverses_entry_id", "journal_entries", None),
    ("journey_enrolments", "journey_id", "journeys", "CASCADE"),
    ("journey_enrolments", "member_id", "members", "CASCADE"),
    ("journey_versions", "journey_id", "journeys", "CASCADE"),
    ("ledger_accounts", "member_id", "members", "CASCADE"),
    ("ledger_postings", "account_id", "ledger_accounts", "CASCADE"),
    ("ledger_postings", "entry_id", "journal_entries", "CASCADE"),
    ("mall_items", "template_id", "coupon_templates", "RESTRICT"),
    ("mall_orders", "coupon_code_id", "coupon_codes", "SET NULL"),
    ("mall_orders", "item_id", "mall_items", "RESTRICT"),
    ("mall_orders", "member_id", "members", "CASCADE"),
    ("member_activities", "member_id", "members", "CASCADE"),
    ("member_consents", "member_id", "members", "CASCADE"),
    ("member_erasures", "member_id", "members", "CASCADE"),
    ("member_identities", "member_id", "members", "CASCADE"),
    ("member_joins", "member_id", "members", "CASCADE"),
    ("member_joins", "staff_user_id", "staff_users", "SET NULL"),
    ("member_joins", "store_id", "stores", "SET NULL"),
    ("member_notes", "member_id", "members", "CASCADE"),
    ("member_notes", "staff_user_id", "staff_users", "SET NULL"),
    ("member_predictions", "member_id", "members", "CASCADE"),
    ("member_tags", "member_id", "members", "CASCADE"),
    ("member_tiers", "member_id", "members", "CASCADE"),
    ("members", "home_store_id", "stores", "SET NULL"),
    ("members", "merged_into_id", "members", "SET NULL"),
    ("message_events", "message_id", "messages", "CASCADE"),
    ("messages", "member_id", "members", "CASCADE"),
    ("messages", "template_id", "message_templates", "SET NULL"),
    ("order_lines", "order_id", "orders", "CASCADE"),
    ("order_payments", "earn_entry_id", "journal_entries", None),
    ("order_payments", "member_id", "members", "CASCADE"),
    ("order_payments", "order_id", "orders", "CASCADE"),
    ("order_payments", "spend_entry_id", "journal_entries", None),
    ("order_payments", "value_entry_id", "journal_entries", None),
    ("orders", "member_id", "members", "SET NULL"),
    ("orders", "store_id", "stores", "SET NULL"),
    ("points_allocations", "entry_id", "journal_entries", "CASCADE"),
    ("points_allocations", "lot_id", "points_lots", "CASCADE"),
    ("points_lots", "entry_id", "journal_entries", "CASCADE"),
    ("points_lots", "member_id", "members", "CASCADE"),
    ("portal_codes", "member_id", "members", "CASCADE"),
    ("portal_links", "member_id", "members", "CASCADE"),
    ("portal_sessions", "member_id", "members", "CASCADE"),
    ("portal_visits", "member_id", "members", "CASCADE"),
    ("refund_lines", "order_line_id", "order_lines", "CASCADE"),
    ("refund_lines", "refund_id", "refunds", "CASCADE"),
    ("refunds", "order_id", "orders", "CASCADE"),
    ("segment_members", "member_id", "members", "CASCADE"),
    ("segment_members", "segment_id", "segments", "CASCADE"),
    ("staff_password_resets", "staff_user_id", "staff_users", "CASCADE"),
    ("staff_sessions", "staff_user_id", "staff_users", "CASCADE"),
    ("tier_changes", "member_id", "members", "CASCADE"),
    ("top_ups", "entry_id", "journal_entries", None),
    ("top_ups", "member_id", "members", "CASCADE"),
    ("top_ups", "refund_entry_id", "journal_entries", None),
    ("webhook_attempts", "delivery_id", "webhook_deliveries", "CASCADE"),
    ("webhook_deliveries", "endpoint_id", "webhook_endpoints", "CASCADE"),
    ("webhook_deliveries", "event_id", "outbox_events", "CASCADE"),
    ("webhook_deliveries", "replay_of_id", "webhook_deliveries", "SET NULL"),
)

M = "merchant_id"
# PostgreSQL cuts identifiers at 63 bytes; SQLAlchemy shortens longer generated names this way
# (the models name them the same through the naming convention).
PG_NAME_MAX = 63


def _pg_name(name: str) -> str:
    if len(name) <= PG_NAME_MAX:
        return name
    import hashlib

    return name[: PG_NAME_MAX - 8] + "_" + hashlib.md5(name.encode()).hexdigest()[-4:]


def _uq(table: str, columns: Sequence[str]) -> str:
    return f"uq_{table}_{'_'.join(columns)}"


def _fk(table: str, column: str, parent: str) -> str:
    return f"fk_{table}_{column}_{parent}"


def _on_delete(rule: str | None, column: str | None) -> str:
    if rule is None:
        return ""
    if rule == "SET NULL" and column is not None:
        return f" ON DELETE SET NULL ({column})"
    return f" ON DELETE {rule}"


def _postgresql(scoped: bool) -> None:
    """Drop the keys of one shape and add those of the other (``scoped``: with the merchant)."""
    for table, column, parent, _rule in FOREIGN_KEYS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {_pg_name(_fk(table, column, parent))}")
    for table, columns in UNIQUES:
        old = _uq(table, (*columns, M) if not scoped else columns)
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {_pg_name(old)}")
    pk_columns = "id, merchant_id" if scoped else "id"
    for table in SCOPED:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({pk_columns})")
    chunks = "job_id, seq, merchant_id" if scoped else "job_id, seq"
    op.execute("ALTER TABLE import_file_chunks DROP CONSTRAINT pk_import_file_chunks")
    op.execute(
        "ALTER TABLE import_file_chunks "
        f"ADD CONSTRAINT pk_import_file_chunks PRIMARY KEY ({chunks})"
    )
    for table, columns in UNIQUES:
        new = (*columns, M) if scoped else columns
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {_pg_name(_uq(table, new))} "
            f"UNIQUE ({', '.join(new)})"
        )
    for table, column, parent, rule in FOREIGN_KEYS:
        if scoped:
            key = f"({column}, {M}) REFERENCES {parent} (id, {M})"
            action = _on_delete(rule, column)
        else:
            key = f"({column}) REFERENCES {parent} (id)"
            action = _on_delete(rule, None)
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {_pg_name(_fk(table, column, parent))} "
            f"FOREIGN KEY {key}{action}"
        )


def _sqlite_edits() -> dict[str, list[tuple[str, str]]]:
    """Per table, the (before, after) pieces of its CREATE TABLE text."""
    edits: dict[str, list[tuple[str, str]]] = {table: [] for table in SCOPED}
    for table in SCOPED:
        edits[table].append(
            (
                f"CONSTRAINT pk_{table} PRIMARY KEY (id)",
                f"CONSTRAINT pk_{table} PRIMARY KEY (id), "
                f"CONSTRAINT uq_{table}_id_{M} UNIQUE (id, {M})",
            )
        )
    edits["import_file_chunks"] = [
        (
            "CONSTRAINT pk_import_file_chunks PRIMARY KEY (job_id, seq)",
            f"CONSTRAINT pk_import_file_chunks PRIMARY KEY (job_id, seq, {M})",
        )
    ]
    for table, columns in UNIQUES:
        edits[table].append(
            (
                f"CONSTRAINT {_uq(table, columns)} UNIQUE ({', '.join(columns)})",
                f"CONSTRAINT {_uq(table, (*columns, M))} UNIQUE ({', '.join((*columns, M))})",
            )
        )
    for table, column, parent, rule in FOREIGN_KEYS:
        if rule == "SET NULL":
            continue  # SQLite would clear merchant_id too: the key stays column → parent.id
        name = _fk(table, column, parent)
        edits[table].append(
            (
                f"CONSTRAINT {name} FOREIGN KEY({column}) REFERENCES {parent} (id)",
                f"CONSTRAINT {name} FOREIGN KEY({column}, {M}) REFERENCES {parent} (id, {M})",
            )
        )
    return edits


def _sqlite(scoped: bool) -> None:
    """Rebuild each table from its own CREATE TABLE text with the keys edited (SQLite's
    twelve-step ALTER TABLE, https://sqlite.org/lang_altertable.html#otheralter)."""
    conn: Connection = op.get_bind()
    if conn.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError(
            "0023_citus_keys rebuilds tables: run it through `patron migrate`, which turns "
            "SQLite's foreign keys off for the migration and checks them all afterwards"
        )
    for table, pieces in _sqlite_edits().items():
        sql = conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).scalar_one()
        for before, after in pieces:
            old, new = (before, after) if scoped else (after, before)
            if sql.count(old) != 1:
                raise RuntimeError(f"{table}: expected one {old!r} in its schema")
            sql = sql.replace(old, new)
        # A table an earlier batch operation rebuilt has its name quoted.
        head = next(
            (
                h
                for h in (f"CREATE TABLE {table} (", f'CREATE TABLE "{table}" (')
                if sql.startswith(h)
            ),
            None,
        )
        if head is None:
            raise RuntimeError(f"{table}: unexpected schema text")
        # DROP TABLE drops the table's indexes and triggers (the set-up version triggers of
        # 0020_checkout among them): both are created again on the rebuilt table.
        indexes = (
            conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
                "AND tbl_name = ? AND sql IS NOT NULL ORDER BY type",
                (table,),
            )
            .scalars()
            .all()
        )
        conn.exec_driver_sql(f"CREATE TABLE _new_{table} (" + sql[len(head) :])
        conn.exec_driver_sql(f"INSERT INTO _new_{table} SELECT * FROM {table}")
        conn.exec_driver_sql(f"DROP TABLE {table}")
        conn.exec_driver_sql(f"ALTER TABLE _new_{table} RENAME TO {table}")
        for index in indexes:
            conn.exec_driver_sql(index)
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"rows whose keys name another merchant's rows: {broken[:20]}")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgresql(scoped=True)
    else:
        _sqlite(scoped=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgresql(scoped=False)
    else:
        _sqlite(scoped=False)
