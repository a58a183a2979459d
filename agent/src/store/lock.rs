//! One agent per store. Two agents on one file would both ingest (each rejecting the other's
//! readings as duplicates) and, sharing a client id, kick each other off the broker. The
//! first takes an exclusive lock on `<store>.lock` for as long as it runs; the kernel drops
//! it when the process ends, however it ends, so a crash leaves no stale lock.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another agent ({holder}) is running on the store {store}: stop it first, or give this one its own storage.path")]
    Held { store: PathBuf, holder: String },
    #[error("cannot lock the store {store} through {lock}: {source}")]
    Io { store: PathBuf, lock: PathBuf, source: std::io::Error },
}

/// Held while the agent runs.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

impl StoreLock {
    pub fn acquire(store: &Path) -> Result<Self, LockError> {
        let lock = PathBuf::from(format!("{}.lock", store.display()));
        let io = |source| LockError::Io { store: store.to_path_buf(), lock: lock.clone(), source };
        if let Some(dir) = store.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io)?;
        }
        let mut file = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(&lock)
        }
        .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => "pid unknown".to_string(),
                    pid => format!("pid {pid}"),
                };
                return Err(LockError::Held { store: store.to_path_buf(), holder });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        // Who holds it, for the message the next one prints.
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| write!(file, "{}", std::process::id()))
            .map_err(io)?;
        Ok(StoreLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_agent_on_the_same_store_is_told_who_holds_it_and_the_lock_goes_with_the_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join("sobre.db");
        // Given one agent holds the store
        let first = StoreLock::acquire(&store).expect("the first agent locks the store");
        // When a second one starts on it, Then it is refused with the first one's pid
        let refused = StoreLock::acquire(&store).expect_err("the second agent is refused");
        assert!(refused.to_string().contains(&format!("pid {}", std::process::id())), "{refused}");
        // When the first stops, Then the store is free again
        drop(first);
        assert!(StoreLock::acquire(&store).is_ok());
    }
}
