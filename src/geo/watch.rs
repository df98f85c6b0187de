//! Reloading GeoIP databases when their files are replaced on disk.
//!
//! GeoIP data goes stale (addresses move between networks every week), so users refresh it with
//! `geoipupdate` or a cron job while the server runs. The [`Watcher`] notices and swaps a fresh
//! [`GeoDb`] in, without a restart and without the query path ever waiting: lookups keep using
//! the old `Arc<GeoDb>` until the new one is complete, then move over atomically.
//!
//! How it decides:
//! - **Polling**, every `interval`, of each file's identity: modification and change time, size,
//!   device and inode (`FileStamp`). Polling a handful of `stat` calls is cheap, portable and
//!   catches every way of replacing a file (rename over it, copy onto it, retarget a symlink),
//!   where inotify needs care with renames and symlinks.
//! - **Settling**: a change is acted on only once the files look the same on two polls in a row,
//!   so a `cp` caught half-way is not loaded (and not warned about) mid-write.
//! - **All or nothing**: on a change, *all* files are opened anew into a new [`GeoDb`]. If any
//!   fails (truncated, corrupt, missing), a warning names the file and the reason, and the old
//!   databases keep answering. The broken state is remembered and not retried every poll; the
//!   next change to the files triggers a new attempt.
//!
//! The watcher runs as a tokio task and stops when its [`CancellationToken`] is cancelled.
//! Opening files is blocking work and runs on the blocking pool.

use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use super::error::GeoError;
use super::reader::GeoDb;

/// A file's identity: if any part changes, the file was replaced or rewritten.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    /// `(dev, ino, ctime_sec, ctime_nsec)` on Unix: a rename gives a new inode, an in-place
    /// rewrite a new ctime even if the writer restores mtime (`cp -p`).
    unix: (u64, u64, i64, i64),
}

impl FileStamp {
    pub(crate) fn of(meta: &Metadata) -> FileStamp {
        #[cfg(unix)]
        let unix = {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino(), meta.ctime(), meta.ctime_nsec())
        };
        #[cfg(not(unix))]
        let unix = (0, 0, 0, 0);
        FileStamp {
            modified: meta.modified().ok(),
            len: meta.len(),
            unix,
        }
    }

    /// The stamp of the file at `path` now (following symlinks); `None` if it cannot be
    /// `stat`ed (missing, permissions).
    fn at(path: &Path) -> Option<FileStamp> {
        std::fs::metadata(path).ok().map(|m| FileStamp::of(&m))
    }
}

type Stamps = Vec<Option<FileStamp>>;

/// Polling faster than this is pointless (and a zero interval would spin).
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// What one [`Watcher::poll`] did.
#[derive(Debug)]
#[non_exhaustive]
pub enum PollOutcome {
    /// The files are those of the loaded databases.
    Unchanged,
    /// The files changed since the last poll; waiting for them to stay still for one interval.
    Settling,
    /// The files changed and all opened: this is the new database set (already handed to the
    /// watcher's consumer when run by [`Watcher::run`]).
    Reloaded(Arc<GeoDb>),
    /// The files changed but one of them failed to open; the old databases stay. Logged once.
    Failed(GeoError),
    /// The files are still in the state that failed last time; nothing was retried.
    StillBroken,
}

/// Watches the files of a [`GeoDb`] and builds a new one when they are replaced.
#[derive(Debug)]
pub struct Watcher {
    paths: Vec<PathBuf>,
    interval: Duration,
    /// Stamps of the files the current databases were read from.
    loaded: Stamps,
    /// Stamps seen on the previous poll when they differed from `loaded`.
    pending: Option<Stamps>,
    /// Stamps of the last state that failed to load.
    failed: Option<Stamps>,
}

impl Watcher {
    /// A watcher for the files `current` was opened from, polling every `interval`. It compares
    /// against the files exactly as `current` read them, so a replacement that happened between
    /// opening and watching is still noticed. `interval` is at least 10 ms.
    pub fn new(current: &GeoDb, interval: Duration) -> Watcher {
        Watcher {
            paths: current.paths(),
            interval: interval.max(MIN_INTERVAL),
            loaded: current.databases().map(|d| Some(d.stamp)).collect(),
            pending: None,
            failed: None,
        }
    }

    /// The files watched, in lookup order.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Checks the files once and reloads if they changed and have settled (see the module
    /// docs). [`Watcher::run`] calls this every interval; tests and a manual "reload now" can
    /// call it directly.
    pub async fn poll(&mut self) -> PollOutcome {
        let now: Stamps = self.paths.iter().map(|p| FileStamp::at(p)).collect();
        if now == self.loaded {
            self.pending = None;
            self.failed = None;
            return PollOutcome::Unchanged;
        }
        if self.failed.as_ref() == Some(&now) {
            return PollOutcome::StillBroken;
        }
        if self.pending.as_ref() != Some(&now) {
            self.pending = Some(now);
            return PollOutcome::Settling;
        }
        self.pending = None;

        let paths = self.paths.clone();
        let opened = tokio::task::spawn_blocking(move || GeoDb::open(&paths)).await;
        match opened {
            Ok(Ok(db)) => {
                // The stamps of what was actually read, which may be newer than `now`.
                self.loaded = db.databases().map(|d| Some(d.stamp)).collect();
                self.failed = None;
                let types: Vec<&str> = db.databases().map(|d| d.database_type.as_str()).collect();
                tracing::info!(files = ?self.paths, database_types = ?types, "GeoIP databases reloaded");
                PollOutcome::Reloaded(Arc::new(db))
            }
            Ok(Err(error)) => {
                tracing::warn!(
                    file = %error.path().display(),
                    %error,
                    "GeoIP reload failed; keeping the previously loaded databases"
                );
                self.failed = Some(now);
                PollOutcome::Failed(error)
            }
            Err(join_error) => {
                // The open panicked (a bug in a reader); do not take the watcher down with it.
                tracing::error!(error = %join_error, "GeoIP reload task failed");
                self.failed = Some(now);
                PollOutcome::StillBroken
            }
        }
    }

    /// Polls every interval until `cancel` is cancelled, passing each newly loaded database set
    /// to `on_reload`.
    pub async fn run<F>(mut self, cancel: CancellationToken, mut on_reload: F)
    where
        F: FnMut(Arc<GeoDb>) + Send,
    {
        let mut ticks = ticker(self.interval);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = ticks.tick() => {}
            }
            if let PollOutcome::Reloaded(db) = self.poll().await
                && !cancel.is_cancelled()
            {
                on_reload(db);
            }
        }
    }
}

/// An interval timer whose first tick is one interval away (the files were just loaded) and
/// which does not try to catch up on ticks missed while a reload ran.
fn ticker(interval: Duration) -> tokio::time::Interval {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks
}
