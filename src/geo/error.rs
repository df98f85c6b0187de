//! The one error type of the GeoIP module.
//!
//! Every message names the file it is about (and for CSV input, the line), because the person
//! reading it is an operator who has just dropped a new database or CSV in place and needs to
//! know which one is wrong and why — not a stack of library errors.

use std::path::{Path, PathBuf};

/// Errors opening GeoIP databases or building one from CSV.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GeoError {
    /// A database file could not be read (missing, permissions…).
    #[error("GeoIP database {path}: cannot read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },

    /// A database file was read but is not a valid MaxMind DB (truncated, corrupt, not an
    /// mmdb at all).
    #[error("GeoIP database {path}: not a valid MaxMind DB (truncated or corrupt?): {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What the reader found wrong.
        reason: String,
    },

    /// A row (or the header) of a CSV given to [`crate::geo::build_from_csv`] is wrong.
    #[error("{path}:{line}: {reason}")]
    Csv {
        /// The CSV file.
        path: PathBuf,
        /// 1-based line number in the file.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },

    /// Reading the CSV or writing the output database failed.
    #[error("{path}: {source}")]
    Io {
        /// The file being read or written.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },

    /// The mmdb writer refused the data (e.g. the tree outgrew its record size).
    #[error("{path}: cannot build database: {reason}")]
    Build {
        /// The output file.
        path: PathBuf,
        /// The writer's reason.
        reason: String,
    },
}

impl GeoError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            GeoError::Read { path, .. }
            | GeoError::Invalid { path, .. }
            | GeoError::Csv { path, .. }
            | GeoError::Io { path, .. }
            | GeoError::Build { path, .. } => path,
        }
    }
}
