//! Errors of the state database, each naming the file.
//!
//! SQLite reports "unable to open database file" or "file is not a database"; an operator
//! needs to know *which* file and what to do. Every variant carries the database path, and
//! the common failures (permission denied, not a directory, not a database, corrupt, locked by
//! another process, written by a newer version) have their own variants and plain messages,
//! e.g. `data/ayadns.db: cannot open: permission denied`.

use std::io;
use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

/// A state-database error; its `Display` starts with the database path.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A folder on the way to the file could not be created.
    #[error("{}: cannot create folder {}: {}", path.display(), dir.display(), io_reason(source))]
    CreateDir {
        /// The database file.
        path: PathBuf,
        /// The folder that could not be created.
        dir: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// Something on the path that must be a folder is a file.
    #[error("{}: cannot open: {} is not a directory", path.display(), file.display())]
    NotADirectory {
        /// The database file.
        path: PathBuf,
        /// The file in the way.
        file: PathBuf,
    },
    /// The file could not be opened or created (permission denied, a parent is not a
    /// directory, the path is a directory, read-only file system...).
    #[error("{}: {op}: {}", path.display(), io_reason(source))]
    Io {
        /// The database file.
        path: PathBuf,
        /// What was being done ("cannot open").
        op: &'static str,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// SQLite could not open a file it needs: the database itself, or the `-wal` / `-shm`
    /// files beside it (WAL mode creates them, so the folder must be writable).
    #[error(
        "{}: {op}: unable to open the database or its -wal/-shm files (is the folder writable?)",
        path.display()
    )]
    CannotOpen {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
    },
    /// The file exists but is not an SQLite database.
    #[error("{}: cannot open: not an SQLite database", path.display())]
    NotADatabase {
        /// The database file.
        path: PathBuf,
    },
    /// The database is damaged (`PRAGMA quick_check` failed, or SQLite found a malformed page).
    #[error("{}: database is corrupt: {detail}", path.display())]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What the check reported.
        detail: String,
    },
    /// Another process holds a lock on the database for longer than the busy timeout.
    #[error("{}: {op}: database is locked by another process", path.display())]
    Locked {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
    },
    /// SQLite may only read the database (file or file system read-only).
    #[error("{}: {op}: database is read-only", path.display())]
    ReadOnly {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
    },
    /// The database was written by a newer ayadns: its schema version is unknown here.
    #[error(
        "{}: schema version {found} is newer than this ayadns understands (up to {supported}); use a newer ayadns or another file",
        path.display()
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// `PRAGMA user_version` of the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// Any other SQLite failure (disk full, I/O error...).
    #[error("{}: {op}: {source}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
}

impl StateError {
    /// The database file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            StateError::CreateDir { path, .. }
            | StateError::NotADirectory { path, .. }
            | StateError::Io { path, .. }
            | StateError::CannotOpen { path, .. }
            | StateError::NotADatabase { path }
            | StateError::Corrupt { path, .. }
            | StateError::Locked { path, .. }
            | StateError::ReadOnly { path, .. }
            | StateError::TooNew { path, .. }
            | StateError::Sqlite { path, .. } => path,
        }
    }

    /// Classify an SQLite error that happened while doing `op` on `path`.
    pub(crate) fn sqlite(path: &Path, op: &'static str, e: rusqlite::Error) -> StateError {
        let path = path.to_path_buf();
        let code = match &e {
            rusqlite::Error::SqliteFailure(f, _) => Some(f.code),
            _ => None,
        };
        match code {
            Some(ErrorCode::NotADatabase) => StateError::NotADatabase { path },
            Some(ErrorCode::DatabaseCorrupt) => StateError::Corrupt {
                path,
                detail: match &e {
                    rusqlite::Error::SqliteFailure(_, Some(msg)) => msg.clone(),
                    _ => "malformed database".to_string(),
                },
            },
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                StateError::Locked { path, op }
            }
            Some(ErrorCode::ReadOnly) => StateError::ReadOnly { path, op },
            Some(ErrorCode::CannotOpen) => StateError::CannotOpen { path, op },
            Some(ErrorCode::PermissionDenied) => StateError::Io {
                path,
                op,
                source: io::Error::from(io::ErrorKind::PermissionDenied),
            },
            _ => StateError::Sqlite {
                path,
                op,
                source: e,
            },
        }
    }
}

/// An I/O error in the words of the message, without "(os error 13)".
fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        io::ErrorKind::NotADirectory => "not a directory (a file is on the path)".into(),
        io::ErrorKind::IsADirectory => "is a directory".into(),
        io::ErrorKind::ReadOnlyFilesystem => "read-only file system".into(),
        io::ErrorKind::NotFound => "not found".into(),
        io::ErrorKind::StorageFull => "no space left on device".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: i32, msg: &str) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some(msg.to_string()))
    }

    #[test]
    fn state_error_display_names_the_file() {
        let p = Path::new("data/ayadns.db");
        let e = StateError::Io {
            path: p.into(),
            op: "cannot open",
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert_eq!(
            e.to_string(),
            "data/ayadns.db: cannot open: permission denied"
        );
        assert_eq!(e.path(), p);
        let e = StateError::CreateDir {
            path: p.into(),
            dir: "data".into(),
            source: io::Error::from(io::ErrorKind::NotADirectory),
        };
        assert_eq!(
            e.to_string(),
            "data/ayadns.db: cannot create folder data: not a directory (a file is on the path)"
        );
    }

    #[test]
    fn state_error_classifies_sqlite_codes() {
        let p = Path::new("x.db");
        let cases = [
            (
                rusqlite::ffi::SQLITE_NOTADB,
                "x.db: cannot open: not an SQLite database",
            ),
            (
                rusqlite::ffi::SQLITE_CORRUPT,
                "x.db: database is corrupt: boom",
            ),
            (
                rusqlite::ffi::SQLITE_BUSY,
                "x.db: cannot open: database is locked by another process",
            ),
            (
                rusqlite::ffi::SQLITE_READONLY,
                "x.db: cannot open: database is read-only",
            ),
            (
                rusqlite::ffi::SQLITE_PERM,
                "x.db: cannot open: permission denied",
            ),
        ];
        for (code, want) in cases {
            let e = StateError::sqlite(p, "cannot open", failure(code, "boom"));
            assert_eq!(e.to_string(), want, "code {code}");
            assert_eq!(e.path(), p);
        }
        let e = StateError::sqlite(
            p,
            "cannot write",
            failure(rusqlite::ffi::SQLITE_FULL, "disk full"),
        );
        assert!(matches!(e, StateError::Sqlite { .. }), "{e:?}");
        assert!(e.to_string().starts_with("x.db: cannot write: "), "{e}");
    }
}
