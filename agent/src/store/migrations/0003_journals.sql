-- sobre store, migration 3: the decision ledger and the control log in one shape, the
-- journal's (store/journal.rs): a sequence, the agent time, the record's kind, what it is
-- about, and the record as published. Indexes for retention, which deletes by time.

-- The ledger kept a recommendation's status, expiry and text beside its record; the record
-- holds all three (its `status`, `expires` and `recommendation`), so the status becomes the
-- kind and the rest is read from the record. Rows keep their sequence numbers.
CREATE TABLE decisions_journal (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    ts      INTEGER NOT NULL,
    kind    TEXT NOT NULL,           -- the status: proposed, accepted, applied, rejected, …
    subject TEXT,                    -- the recommendation's id
    record  TEXT NOT NULL            -- the sobre.decision/1 record as published
);
INSERT INTO decisions_journal (seq, ts, kind, subject, record)
SELECT seq, ts, status, subject, record FROM decisions ORDER BY seq;
DROP TABLE decisions;
ALTER TABLE decisions_journal RENAME TO decisions;
CREATE INDEX decisions_subject ON decisions (subject, seq);
CREATE INDEX decisions_kind ON decisions (kind, subject, seq);
CREATE INDEX decisions_ts ON decisions (ts);

-- A control record is about a zone, or about nothing in particular (a mode, a flex request).
ALTER TABLE control_log RENAME COLUMN zone TO subject;
CREATE INDEX control_log_subject ON control_log (subject, seq);
CREATE INDEX control_log_ts ON control_log (ts);

-- Delivered ids are kept as long as a rebuilt report could be sent again, by when it was acked.
CREATE INDEX outbox_delivered_acked ON outbox_delivered (acked_ms);
