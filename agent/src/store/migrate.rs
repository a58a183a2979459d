//! One schema for every table of the store's file, under SQLite's `user_version`: the number of
//! migrations applied. Whoever opens the file first (the daemon, the CLI, a test) brings it up
//! to date, in one IMMEDIATE transaction, so a second process opening it meanwhile waits and
//! then finds it migrated. A store written by a newer sobre is refused before anything in it
//! changes: this binary cannot know what that version's tables mean.

use super::StoreError;
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;

/// Migration `i + 1` is `MIGRATIONS[i]`. Append only: a released migration is never edited,
/// because stores out there have run it.
const MIGRATIONS: [&str; 5] = [
    include_str!("migrations/0001_readings.sql"),
    include_str!("migrations/0002_ledgers_outbox.sql"),
    include_str!("migrations/0003_journals.sql"),
    include_str!("migrations/0004_rollups_held.sql"),
    include_str!("migrations/0005_readings_by_time.sql"),
];

/// The schema version this binary writes and reads.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The version the file says it has.
pub(super) fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

/// Refuses a store newer than this binary, without writing to it.
pub(super) fn refuse_newer(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let found = version(conn).map_err(|source| StoreError::Open { path: path.to_path_buf(), source })?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::Version { path: path.to_path_buf(), found });
    }
    Ok(())
}

/// Applies the migrations the file has not run yet. Returns the version it was at.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<i64, StoreError> {
    let open = |source| StoreError::Open { path: path.to_path_buf(), source };
    // Most opens find the store up to date: no write transaction for them.
    let found = version(conn).map_err(open)?;
    if found == SCHEMA_VERSION {
        return Ok(found);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(open)?;
    // Another process may have migrated between the look above and the lock.
    let found = version(&tx).map_err(open)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::Version { path: path.to_path_buf(), found });
    }
    for (version, sql) in (1..).zip(MIGRATIONS).skip(usize::try_from(found.max(0)).unwrap_or(0)) {
        tx.execute_batch(sql).map_err(|source| StoreError::Migrate { path: path.to_path_buf(), version, source })?;
    }
    // user_version is part of the transaction: the file is at the new version only if every
    // migration committed.
    tx.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(open)?;
    tx.commit().map_err(open)?;
    if found > 0 {
        tracing::info!(store = %path.display(), from = found, to = SCHEMA_VERSION, "store schema migrated");
    }
    Ok(found)
}

#[cfg(test)]
mod tests;
