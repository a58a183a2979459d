-- sobre store, migration 4: the rollup rows the writer holds part of in memory (see
-- agent/src/store/held.rs): at most one per point and resolution, its open bucket. A row named
-- here lacks what the writer held if it stopped without writing it (a crash, a power cut);
-- the next writer rebuilds it from the readings before it writes. Empty after a clean stop.
CREATE TABLE IF NOT EXISTS rollups_held (
    point       INTEGER NOT NULL REFERENCES points(key),
    resolution  TEXT NOT NULL,
    bucket      INTEGER NOT NULL,
    PRIMARY KEY (point, resolution)
) WITHOUT ROWID;
