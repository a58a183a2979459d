-- sobre store, migration 2: the tables the decision ledger, the control log and the uplink's
-- outbox created for themselves before one schema covered the whole file. They are created
-- here exactly as those releases did, IF NOT EXISTS, so that a store of those releases, which
-- holds them already, upgrades in place.

-- The decision ledger: every recommendation and every decision about it (sobre.decision/1).
CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    subject TEXT NOT NULL,
    status TEXT NOT NULL,
    ts INTEGER NOT NULL,
    expires INTEGER,
    record TEXT NOT NULL,
    recommendation TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_subject ON decisions (subject, seq);

-- The control log: every command, override, flex request and change of mode (sobre.control/1).
CREATE TABLE IF NOT EXISTS control_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts INTEGER NOT NULL,
    kind TEXT NOT NULL,
    zone TEXT,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS control_log_kind ON control_log (kind, zone, seq);

-- Reports waiting for the city's broker, in the order they were queued.
CREATE TABLE IF NOT EXISTS outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,   -- the report's stable id
    kind       TEXT NOT NULL,
    priority   INTEGER NOT NULL,       -- 0 low … 2 high: what the budget drops first
    topic      TEXT NOT NULL,
    payload    BLOB NOT NULL,
    created_ms INTEGER NOT NULL
);
-- Ids the central broker acknowledged: a report regenerated after a restart is not resent.
CREATE TABLE IF NOT EXISTS outbox_delivered (
    id      TEXT PRIMARY KEY,
    acked_ms INTEGER NOT NULL
) WITHOUT ROWID;
-- Reports dropped to keep within the budget, per kind.
CREATE TABLE IF NOT EXISTS outbox_drops (
    kind    TEXT PRIMARY KEY,
    count   INTEGER NOT NULL,
    last_id TEXT NOT NULL
) WITHOUT ROWID;
-- Where each report series got to, so a restart neither skips nor repeats a period.
CREATE TABLE IF NOT EXISTS reporter_state (
    series  TEXT PRIMARY KEY,
    next_ms INTEGER NOT NULL
) WITHOUT ROWID;
