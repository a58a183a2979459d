//! A value used from async tasks whose every use blocks (a SQLite connection): each use runs on
//! tokio's blocking pool, because the runtime has one thread and must keep polling MQTT.

use std::sync::{Arc, Mutex, PoisonError};

#[derive(Debug)]
pub struct Shared<T>(Arc<Mutex<T>>);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

/// The blocking pool refused the work or the work panicked.
#[derive(Debug, thiserror::Error)]
#[error("blocking work did not complete: {0}")]
pub struct Unfinished(#[from] tokio::task::JoinError);

impl<T: Send + 'static> Shared<T> {
    pub fn new(value: T) -> Self {
        Self(Arc::new(Mutex::new(value)))
    }

    pub async fn with<R: Send + 'static>(&self, f: impl FnOnce(&mut T) -> R + Send + 'static) -> Result<R, Unfinished> {
        let inner = self.0.clone();
        Ok(tokio::task::spawn_blocking(move || {
            // A poisoned lock means a panic in another use, which aborts the process in release.
            let mut value = inner.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut value)
        })
        .await?)
    }

    /// `with` for work already running on the blocking pool (inside another value's `with`):
    /// waits for the value on this thread. Take the outer value's lock first, always in the
    /// same order, and hold this one briefly.
    pub fn with_blocking<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut value = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut value)
    }

    /// `with` for work that can fail: one error for both ways of failing.
    pub async fn try_with<R: Send + 'static, E: From<Unfinished> + Send + 'static>(
        &self,
        f: impl FnOnce(&mut T) -> Result<R, E> + Send + 'static,
    ) -> Result<R, E> {
        self.with(f).await?
    }
}
