//! One instance per address: before `serve` binds its DNS sockets (which set `SO_REUSEPORT`,
//! so a second process would bind beside the first without error and silently take half the
//! queries), it binds each address once *without* `SO_REUSEPORT`, UDP and TCP. The kernel
//! refuses that bind while any other socket holds the address (another ayadns, a leftover
//! demo, knotd, …), whoever owns it; the probe sockets are closed at once.
//!
//! When the address is taken, the error names it and, when `/proc` tells, the process that
//! holds it.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};

/// Refuse, with a message naming the address (and its holder when known), when another
/// socket already serves one of `addrs` over UDP or TCP. Port 0 (any free port) is skipped.
pub fn ensure_free(addrs: &[SocketAddr]) -> anyhow::Result<()> {
    for &addr in addrs {
        if addr.port() == 0 {
            continue;
        }
        for proto in [Proto::Udp, Proto::Tcp] {
            let bound = match proto {
                Proto::Udp => UdpSocket::bind(addr).map(drop),
                Proto::Tcp => TcpListener::bind(addr).map(drop),
            };
            match bound {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                    let who = holder(proto, addr)
                        .map(|(pid, name)| format!(" by process {pid} ({name})"))
                        .unwrap_or_default();
                    anyhow::bail!(
                        "{addr} ({}) is already in use{who}: another DNS server (or another ayadns) serves this address; stop it or change [server] listen. Not starting.",
                        proto.name()
                    );
                }
                Err(e) => anyhow::bail!("cannot listen on {addr} ({}): {e}", proto.name()),
            }
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Proto {
    Udp,
    Tcp,
}

impl Proto {
    fn name(self) -> &'static str {
        match self {
            Proto::Udp => "UDP",
            Proto::Tcp => "TCP",
        }
    }
}

/// The process (pid, command name) holding `addr`, from `/proc/net/*` and `/proc/PID/fd`
/// (only processes this user may inspect are found).
fn holder(proto: Proto, addr: SocketAddr) -> Option<(u32, String)> {
    let table = match (proto, addr) {
        (Proto::Udp, SocketAddr::V4(_)) => "/proc/net/udp",
        (Proto::Udp, SocketAddr::V6(_)) => "/proc/net/udp6",
        (Proto::Tcp, SocketAddr::V4(_)) => "/proc/net/tcp",
        (Proto::Tcp, SocketAddr::V6(_)) => "/proc/net/tcp6",
    };
    let text = std::fs::read_to_string(table).ok()?;
    let inodes: Vec<String> = text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (ip, port) = local_address(cols.get(1)?)?;
            // TCP: only listening sockets (state 0A).
            if matches!(proto, Proto::Tcp) && cols.get(3) != Some(&"0A") {
                return None;
            }
            let overlaps = ip == addr.ip() || ip.is_unspecified() || addr.ip().is_unspecified();
            (port == addr.port() && overlaps).then(|| cols.get(9).map(|s| s.to_string()))?
        })
        .collect();
    if inodes.is_empty() {
        return None;
    }
    let me = std::process::id();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(link) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let link = link.to_string_lossy();
            let Some(inode) = link
                .strip_prefix("socket:[")
                .and_then(|s| s.strip_suffix(']'))
            else {
                continue;
            };
            if inodes.iter().any(|i| i == inode) {
                let name = std::fs::read_to_string(entry.path().join("comm"))
                    .map(|s| s.trim().to_string())
                    .unwrap_or_else(|_| "?".into());
                return Some((pid, name));
            }
        }
    }
    None
}

/// A `/proc/net/{udp,tcp}{,6}` local address: hex words of the address as they lie in memory,
/// `:`, the port in hex.
fn local_address(field: &str) -> Option<(IpAddr, u16)> {
    let (ip, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut bytes = Vec::with_capacity(16);
    for i in (0..ip.len()).step_by(8) {
        let word = u32::from_str_radix(ip.get(i..i + 8)?, 16).ok()?;
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    let ip = match bytes.len() {
        4 => IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?),
        16 => IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?),
        _ => return None,
    };
    Some((ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_address_is_refused_with_its_holder() {
        let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let err = ensure_free(&[addr]).unwrap_err().to_string();
        assert!(err.contains(&addr.to_string()), "{err}");
        assert!(err.contains("already in use"), "{err}");
        drop(taken);
        // Free again (TCP on the same port may be taken by someone else: only check UDP's).
        assert!(UdpSocket::bind(addr).is_ok());
    }

    #[test]
    fn proc_addresses_read_as_the_kernel_writes_them() {
        let word = |b: [u8; 4]| format!("{:08X}", u32::from_ne_bytes(b));
        let v4 = format!("{}:0035", word([127, 0, 0, 53]));
        assert_eq!(
            local_address(&v4),
            Some(("127.0.0.53".parse().unwrap(), 53))
        );
        let v6 = format!(
            "{}{}{}{}:14E9",
            word([0; 4]),
            word([0; 4]),
            word([0; 4]),
            word([0, 0, 0, 1])
        );
        assert_eq!(local_address(&v6), Some(("::1".parse().unwrap(), 5353)));
        assert_eq!(local_address("zz:1"), None);
    }
}
