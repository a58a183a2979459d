-- sobre store, migration 5: readings keyed by time first. Keyed by point first, each point's
-- newest readings sat on a leaf page of their own, so once a store had a history every commit
-- rewrote one 4 KiB page per point it held a reading of: at 1,000 points reporting every 10 s,
-- one page per reading, about 39 GB a day through the WAL of an SD card. Keyed by time, a
-- commit appends to the few pages at the end of the table (about 40 bytes per reading).
-- Reads by time (retention, the oldest reading, a period's activity) are ranges of the key;
-- reads by point now bound their time, and each point's newest reading has a table of its own.

-- The view names the table; it is made again below, on the new one.
DROP VIEW IF EXISTS readings_view;

CREATE TABLE readings_by_time (
    point        INTEGER NOT NULL REFERENCES points(key),
    ts           INTEGER NOT NULL,
    value        REAL NOT NULL,
    energy_kwh   REAL,
    energy_start INTEGER,
    energy_end   INTEGER,
    PRIMARY KEY (ts, point)
) WITHOUT ROWID;
INSERT INTO readings_by_time (point, ts, value, energy_kwh, energy_start, energy_end)
    SELECT point, ts, value, energy_kwh, energy_start, energy_end FROM readings ORDER BY ts, point;

-- The newest reading of each point (how a restarted agent resumes validating it), written
-- with the readings in each commit.
CREATE TABLE newest_readings (
    point   INTEGER PRIMARY KEY REFERENCES points(key),
    ts      INTEGER NOT NULL,
    value   REAL NOT NULL
);
-- With max(), SQLite takes the other columns from the row that holds the maximum.
INSERT INTO newest_readings (point, ts, value) SELECT point, max(ts), value FROM readings GROUP BY point;

DROP TABLE readings;
ALTER TABLE readings_by_time RENAME TO readings;

CREATE VIEW readings_view AS
SELECT p.id AS point, strftime('%Y-%m-%dT%H:%M:%SZ', r.ts / 1000, 'unixepoch') AS time_utc,
       r.value, p.unit, r.energy_kwh
FROM readings r JOIN points p ON p.key = r.point;
