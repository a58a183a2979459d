-- sobre store, migration 1: the readings and what is derived from them (the whole schema of
-- the first releases). Open the store with `sqlite3 sobre.db`; the views at the end are the
-- friendly way in. Timestamps are integer milliseconds since 1970-01-01 UTC.
-- A store of the first releases may hold these tables already: every one is IF NOT EXISTS.

-- Configured points. Readings refer to `key`, a small integer, to keep rows small.
CREATE TABLE IF NOT EXISTS points (
    key     INTEGER PRIMARY KEY,
    id      TEXT NOT NULL UNIQUE,
    kind    TEXT NOT NULL,           -- energy, power, zone_temperature, …
    unit    TEXT NOT NULL,           -- the stored unit: kWh, kW, °C, %, ppm, bool, W/m²
    zone    TEXT,
    fuel    TEXT,                    -- energy points: electricity, gas, heat
    topic   TEXT NOT NULL,
    brick   TEXT NOT NULL,           -- Brick class
    tags    TEXT NOT NULL            -- JSON array of Haystack-style tags
);

-- Every accepted reading. For energy points, energy_kwh is the energy of
-- [energy_start, energy_end): interval energy, or the difference from the previous counter
-- reading. NULL energy means unknown (first reading, counter reset), never zero.
CREATE TABLE IF NOT EXISTS readings (
    point        INTEGER NOT NULL REFERENCES points(key),
    ts           INTEGER NOT NULL,
    value        REAL NOT NULL,
    energy_kwh   REAL,
    energy_start INTEGER,
    energy_end   INTEGER,
    PRIMARY KEY (point, ts)
) WITHOUT ROWID;

-- Rollups: 15m and 1h buckets start on UTC boundaries; 1d and 1mo on the site's local
-- midnight. Energy points fill energy_kwh (summed, spread evenly over the buckets an interval
-- covers) and covered_s (seconds of the bucket with known energy); other points fill
-- n, sum (mean = sum / n), min and max.
CREATE TABLE IF NOT EXISTS rollups (
    point       INTEGER NOT NULL REFERENCES points(key),
    resolution  TEXT NOT NULL CHECK (resolution IN ('15m', '1h', '1d', '1mo')),
    bucket      INTEGER NOT NULL,    -- start of the bucket
    label       TEXT NOT NULL,       -- 2019-03-01T10:15Z, 2019-03-01 (local day), 2019-03 (local month)
    n           INTEGER NOT NULL,    -- readings that contributed
    sum         REAL,
    min         REAL,
    max         REAL,
    energy_kwh  REAL,
    covered_s   REAL,
    PRIMARY KEY (point, resolution, bucket)
) WITHOUT ROWID;

-- Rejected readings (and intervals whose energy could not be derived), per point and reason.
CREATE TABLE IF NOT EXISTS rejections (
    point       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    count       INTEGER NOT NULL,
    first_at    INTEGER NOT NULL,    -- agent time of the first and last one
    last_at     INTEGER NOT NULL,
    last_detail TEXT NOT NULL,
    PRIMARY KEY (point, reason)
) WITHOUT ROWID;

-- Device availability changes, from last-will / availability topics.
CREATE TABLE IF NOT EXISTS availability (
    topic   TEXT NOT NULL,
    ts      INTEGER NOT NULL,
    online  INTEGER NOT NULL,
    PRIMARY KEY (topic, ts)
) WITHOUT ROWID;

CREATE VIEW IF NOT EXISTS readings_view AS
SELECT p.id AS point, strftime('%Y-%m-%dT%H:%M:%SZ', r.ts / 1000, 'unixepoch') AS time_utc,
       r.value, p.unit, r.energy_kwh
FROM readings r JOIN points p ON p.key = r.point;

CREATE VIEW IF NOT EXISTS rollups_view AS
SELECT p.id AS point, r.resolution, r.label, r.n,
       CASE WHEN r.n > 0 AND r.sum IS NOT NULL THEN r.sum / r.n END AS mean,
       r.min, r.max, r.energy_kwh, r.covered_s, p.unit
FROM rollups r JOIN points p ON p.key = r.point;
