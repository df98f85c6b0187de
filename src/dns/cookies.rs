//! DNS cookies (RFC 7873) with interoperable server cookies (RFC 9018).
//!
//! A query's COOKIE option holds the client cookie (8 octets), and after the first exchange
//! also the server cookie we gave that client. Our server cookie is 16 octets:
//! version 1, three reserved octets, a 32-bit timestamp (seconds), and an 8-octet
//! SipHash-2-4 of (client cookie | version | reserved | timestamp | client address) under
//! the server secret.
//!
//! The secret rotates: it is derived from a random per-process key and the hour the
//! timestamp falls in, so each hour's cookies are made with a new secret and nothing is
//! stored or shared between threads (no lock on the query path). A server cookie is valid
//! while its timestamp is at most one hour old and at most five minutes ahead (RFC 9018
//! §4.3); a client presenting one has proven it receives our answers at its address, so
//! [`super::rrl`] does not limit it.
//!
//! Every response to a query with a well-formed COOKIE option carries the client cookie and a
//! fresh server cookie. An invalid server cookie is answered normally with a fresh one
//! (RFC 7873 §5.2.3), and stays subject to rate limiting; a COOKIE option of impossible length
//! gets FORMERR (§5.2.2).

use super::counters::{self, CookieResult};
use super::ecs::find_option;
use std::hash::Hasher;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

/// The EDNS option code of COOKIE.
pub const COOKIE: u16 = 10;

/// How long one secret makes new cookies (seconds).
const ROTATION: u32 = 3600;
/// How old a server cookie may be (RFC 9018 §4.3).
const MAX_AGE: u32 = 3600;
/// How far in the future a server cookie's timestamp may be.
const MAX_AHEAD: u32 = 300;

/// The cookie situation of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// No COOKIE option.
    Absent,
    /// A COOKIE option of a bad length: answer FORMERR.
    Malformed,
    /// A well-formed option: its client cookie, and whether its server cookie is ours and
    /// fresh.
    Present {
        /// The client cookie to echo.
        client: [u8; 8],
        /// A valid server cookie came with it.
        valid: bool,
    },
}

/// The server-cookie maker and checker (one per process).
#[derive(Clone)]
pub struct Cookies {
    key: [u64; 2],
}

impl std::fmt::Debug for Cookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cookies")
    }
}

impl Default for Cookies {
    fn default() -> Self {
        Self::new()
    }
}

/// 128 random bits from the kernel (a time- and address-derived value if that fails).
pub fn random_key() -> [u64; 2] {
    let mut b = [0u8; 16];
    // SAFETY: getrandom writes at most b.len() bytes into b.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n != b.len() as isize {
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let local = 0u8;
        let addr = &local as *const u8 as u128;
        b = (t ^ (addr << 64) ^ u128::from(std::process::id())).to_le_bytes();
    }
    let lo = u64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
    let hi = u64::from_le_bytes(b[8..].try_into().expect("8 bytes"));
    [lo, hi]
}

/// Seconds since the epoch, as RFC 9018 timestamps count them (wrapping).
pub fn now_secs() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}

#[allow(deprecated)] // std's SipHasher is SipHash-2-4, the function RFC 9018 names.
fn siphash(key: [u64; 2], parts: &[&[u8]]) -> u64 {
    let mut h = std::hash::SipHasher::new_with_keys(key[0], key[1]);
    for p in parts {
        h.write(p);
    }
    h.finish()
}

impl Cookies {
    /// A maker with a fresh random key.
    pub fn new() -> Self {
        Self { key: random_key() }
    }

    /// The secret of the rotation period `timestamp` falls in.
    fn secret(&self, timestamp: u32) -> [u64; 2] {
        let period = (timestamp / ROTATION).to_be_bytes();
        [
            siphash(self.key, &[&period, b"0"]),
            siphash(self.key, &[&period, b"1"]),
        ]
    }

    /// The 8-octet hash of a server cookie.
    fn hash(&self, client: &[u8; 8], head: &[u8; 8], ip: IpAddr) -> [u8; 8] {
        let timestamp = u32::from_be_bytes(head[4..8].try_into().expect("4 bytes"));
        let secret = self.secret(timestamp);
        let h = match ip {
            IpAddr::V4(v4) => siphash(secret, &[client, head, &v4.octets()]),
            IpAddr::V6(v6) => siphash(secret, &[client, head, &v6.octets()]),
        };
        h.to_le_bytes()
    }

    /// A server cookie for `client` at `ip`, made at `now`.
    pub fn server_cookie(&self, client: &[u8; 8], ip: IpAddr, now: u32) -> [u8; 16] {
        let mut head = [1u8, 0, 0, 0, 0, 0, 0, 0];
        head[4..].copy_from_slice(&now.to_be_bytes());
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&head);
        out[8..].copy_from_slice(&self.hash(client, &head, ip));
        out
    }

    /// The COOKIE option data of a response: client cookie and a fresh server cookie.
    pub fn response_option(&self, client: &[u8; 8], ip: IpAddr, now: u32) -> [u8; 24] {
        let mut out = [0u8; 24];
        out[..8].copy_from_slice(client);
        out[8..].copy_from_slice(&self.server_cookie(client, ip, now));
        out
    }

    /// Check the COOKIE option of the raw query `msg` from `ip` at `now`; counts the result.
    pub fn check(&self, msg: &[u8], ip: IpAddr, now: u32) -> Check {
        let data = match find_option(msg, COOKIE) {
            Some(Some(d)) => d,
            // Absent, or a message the walk cannot follow (the parser decides about that).
            _ => return Check::Absent,
        };
        // Client cookie alone (8), or with a server cookie of 8 to 32 octets (RFC 7873 §4).
        if !(data.len() == 8 || (16..=40).contains(&data.len())) {
            counters::cookie(CookieResult::Malformed);
            return Check::Malformed;
        }
        let client: [u8; 8] = data[..8].try_into().expect("8 bytes");
        if data.len() == 8 {
            counters::cookie(CookieResult::ClientOnly);
            return Check::Present {
                client,
                valid: false,
            };
        }
        let valid = self.valid(&client, &data[8..], ip, now);
        counters::cookie(if valid {
            CookieResult::Valid
        } else {
            CookieResult::Invalid
        });
        Check::Present { client, valid }
    }

    fn valid(&self, client: &[u8; 8], server: &[u8], ip: IpAddr, now: u32) -> bool {
        let Ok(server) = <&[u8; 16]>::try_from(server) else {
            return false;
        };
        if server[0] != 1 {
            return false;
        }
        let head: [u8; 8] = server[..8].try_into().expect("8 bytes");
        let ts = u32::from_be_bytes(head[4..8].try_into().expect("4 bytes"));
        let age = now.wrapping_sub(ts);
        let ahead = ts.wrapping_sub(now);
        if age > MAX_AGE && ahead > MAX_AHEAD {
            return false;
        }
        use subtle::ConstantTimeEq;
        bool::from(self.hash(client, &head, ip).ct_eq(&server[8..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query_with_cookie(data: &[u8]) -> Vec<u8> {
        let mut m = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1];
        m.extend_from_slice(&[1, b'a', 0, 0, 1, 0, 1]);
        m.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0]);
        m.extend_from_slice(&((data.len() + 4) as u16).to_be_bytes());
        m.extend_from_slice(&[0, 10]);
        m.extend_from_slice(&(data.len() as u16).to_be_bytes());
        m.extend_from_slice(data);
        m
    }

    #[test]
    fn round_trip_age_address_and_lengths() {
        let c = Cookies::new();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let client = *b"12345678";
        let now = 1_800_000_000;
        let opt = c.response_option(&client, ip, now);
        let q = query_with_cookie(&opt);
        assert_eq!(
            c.check(&q, ip, now + 10),
            Check::Present {
                client,
                valid: true
            }
        );
        // After the rotation boundary the old cookie still checks (its own period's secret).
        assert_eq!(
            c.check(&q, ip, now + 3599),
            Check::Present {
                client,
                valid: true
            }
        );
        assert_eq!(
            c.check(&q, ip, now + 3601),
            Check::Present {
                client,
                valid: false
            }
        );
        assert_eq!(
            c.check(&q, ip, now - 301),
            Check::Present {
                client,
                valid: false
            }
        );
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert_eq!(
            c.check(&q, other, now),
            Check::Present {
                client,
                valid: false
            }
        );
        // Another process's key: invalid.
        assert_eq!(
            Cookies::new().check(&q, ip, now),
            Check::Present {
                client,
                valid: false
            }
        );
        let mut forged = opt;
        forged[23] ^= 1;
        let q = query_with_cookie(&forged);
        assert_eq!(
            c.check(&q, ip, now),
            Check::Present {
                client,
                valid: false
            }
        );
        assert_eq!(
            c.check(&query_with_cookie(&client), ip, now),
            Check::Present {
                client,
                valid: false
            }
        );
        for bad in [0usize, 7, 9, 15, 41] {
            let q = query_with_cookie(&vec![7u8; bad]);
            assert_eq!(c.check(&q, ip, now), Check::Malformed, "length {bad}");
        }
    }
}
