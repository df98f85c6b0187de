//! [`ClusterError`]: what can go wrong, in words an operator can act on.

use std::path::PathBuf;

/// A cluster operation that did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The guard failed: someone else changed the state first. Nothing was written.
    #[error(
        "conflict: the cluster state changed since it was read; nothing was written (reload and retry)"
    )]
    Conflict,
    /// etcd could not be reached or did not answer in time.
    #[error("etcd is unreachable ({endpoints}): {detail}")]
    Unavailable {
        /// The configured endpoints.
        endpoints: String,
        /// What happened.
        detail: String,
    },
    /// etcd answered but refused the request (permissions, size limits …).
    #[error("etcd refused the request: {0}")]
    Refused(String),
    /// The request itself is wrong (a key, a value too large …).
    #[error("{0}")]
    Invalid(String),
    /// A TLS file could not be read.
    #[error("cannot read {what} {path}: {source}")]
    File {
        /// Which file it is (CA certificate, client key …).
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The local cache (SQLite) failed.
    #[error("cluster cache {path}: {detail}")]
    Cache {
        /// The SQLite file.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
}

impl ClusterError {
    /// True when etcd said the lease does not exist (it expired).
    pub(crate) fn is_lease_gone(&self) -> bool {
        matches!(self, ClusterError::Refused(m) if m.contains("lease not found"))
    }

    /// True when a reachable member said it has no leader (an election is under way).
    pub(crate) fn is_election(&self) -> bool {
        matches!(self, ClusterError::Unavailable { detail, .. } if detail.contains("leader"))
    }

    /// True for [`ClusterError::Unavailable`] (an API answers 503).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, ClusterError::Unavailable { .. })
    }

    pub(crate) fn unavailable(endpoints: &[String], detail: impl Into<String>) -> Self {
        ClusterError::Unavailable {
            endpoints: endpoints.join(", "),
            detail: detail.into(),
        }
    }

    /// An error from the etcd client: transport problems and timeouts are
    /// [`ClusterError::Unavailable`], refusals are [`ClusterError::Refused`].
    pub(crate) fn from_etcd(endpoints: &[String], e: etcd_client::Error) -> Self {
        use etcd_client::Error as E;
        use tonic::Code;
        match e {
            E::GRpcStatus(s) => match s.code() {
                Code::Unavailable
                | Code::DeadlineExceeded
                | Code::Cancelled
                | Code::Unknown
                | Code::Aborted
                | Code::Internal => Self::unavailable(endpoints, s.message().to_string()),
                _ => ClusterError::Refused(s.message().to_string()),
            },
            // The client opens a keep-alive stream with a first keep-alive and reports an
            // expired lease (TTL 0) as this error.
            E::LeaseKeepAliveError(m) if m.contains("lease not found") => ClusterError::Refused(m),
            E::TransportError(_) | E::IoError(_) | E::WatchError(_) | E::LeaseKeepAliveError(_) => {
                Self::unavailable(endpoints, e.to_string())
            }
            other => ClusterError::Refused(other.to_string()),
        }
    }
}
