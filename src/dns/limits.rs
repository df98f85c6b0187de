//! The file-descriptor limit, checked before anything is opened.
//!
//! ayadns holds one descriptor per TCP connection (up to `tcp_max_connections`), one per probe
//! in flight (`health.max_concurrent`), two sockets per listen address and worker, plus a few
//! dozen of its own (state file, admin API, GeoIP files, runtimes). Its defaults pass the
//! common soft limit of 1,024, so at start-up the soft `RLIMIT_NOFILE` is raised to the hard
//! limit; if even that cannot hold what the config asks for, ayadns refuses to start and says
//! which numbers do not add up, instead of failing accepts and probes later under load.

use crate::config::Config;

/// Descriptors kept for everything not counted separately.
pub const SPARE: u64 = 128;

/// What the config needs, itemised: (TCP connections, probes, sockets, spare).
pub fn needed(config: &Config, workers: usize) -> (u64, u64, u64, u64) {
    let tcp = config.server.tcp_max_connections as u64;
    let probes = config.health.max_concurrent as u64;
    let sockets = 2 * (config.server.listen.len() * workers) as u64;
    (tcp, probes, sockets, SPARE)
}

/// Raise the soft descriptor limit to the hard one and check that it holds what `config`
/// needs with `workers` workers. Returns the limit in force.
pub fn raise_nofile(config: &Config, workers: usize) -> anyhow::Result<u64> {
    let (tcp, probes, sockets, spare) = needed(config, workers);
    let need = tcp + probes + sockets + spare;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        anyhow::bail!(
            "cannot read RLIMIT_NOFILE: {}",
            std::io::Error::last_os_error()
        );
    }
    if lim.rlim_cur < lim.rlim_max {
        // An unlimited hard limit is capped by the kernel's nr_open.
        let target = if lim.rlim_max == libc::RLIM_INFINITY {
            std::fs::read_to_string("/proc/sys/fs/nr_open")
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .unwrap_or(1 << 20)
        } else {
            lim.rlim_max
        };
        let raised = libc::rlimit {
            rlim_cur: target,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit reads one rlimit.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim.rlim_cur = target;
        }
    }
    let have = lim.rlim_cur;
    if have < need {
        anyhow::bail!(
            "the open-file limit (RLIMIT_NOFILE) is {have} (hard limit {}), but this \
             configuration needs {need}: {tcp} TCP connections (server.tcp_max_connections) \
             + {probes} probes (health.max_concurrent) + {sockets} sockets ({} listen \
             addresses x {workers} workers x UDP and TCP) + {spare} spare; raise the limit \
             (ulimit -n, systemd LimitNOFILE=) or lower server.tcp_max_connections; not starting",
            lim.rlim_max,
            config.server.listen.len(),
        );
    }
    Ok(have)
}
