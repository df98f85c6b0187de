//! [`GeoDb`]: one or several MaxMind DB (`.mmdb`) files opened together, answering
//! "where is this address?" with a [`Location`].
//!
//! Why several files: the free DB-IP city data ships as separate IPv4 and IPv6 files, and a
//! user may want a small hand-made override file in front of a big downloaded one. Files are
//! tried in the order given; the first one with location data for the address wins.
//!
//! Why read into memory instead of memory-mapping: a GeoIP file is replaced on disk while the
//! server runs (`geoipupdate`, a cron job). With a map, a writer that truncates and rewrites
//! the file in place would pull pages out from under live lookups (SIGBUS). A private copy in
//! memory is immune to whatever happens to the file, and the cost (the file's size, ~8 MB for a
//! country database, ~130 MB for a city one) is paid once per load.
//!
//! Why validate at open: a truncated download must be rejected when it is loaded — at startup
//! with a clear error naming the file, on reload with a warning while the old data keeps
//! answering — never discovered as odd answers later. [`GeoDb::open`] checks the file's
//! metadata and layout (maxminddb does that on load) and then walks the start of the search
//! tree, decoding the records it meets.
//!
//! Address rules:
//! - An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a dual-stack socket reports for an
//!   IPv4 client) is looked up as the plain IPv4 address.
//! - Plain IPv4 works in an IPv6 database: maxminddb follows the `::/96` subtree; for databases
//!   that only store IPv4 under `::ffff:0:0/96` we retry there. Either way the reported network
//!   is converted back to IPv4 terms (`::ffff:81.2.69.0/120` → `81.2.69.0/24`).
//! - IPv6 in an IPv4-only database finds nothing in that file (the next file is tried).

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use maxminddb::{MaxMindDbError, Reader};

use super::error::GeoError;
use super::location::Location;
use super::record::Record;
use super::watch::FileStamp;

/// How many records [`GeoDb::open`] decodes from the start of each tree as a sanity check.
const SAMPLE_RECORDS: usize = 512;

/// Description of one opened database file.
#[derive(Clone, Debug)]
pub struct DatabaseInfo {
    /// The path as given to [`GeoDb::open`].
    pub path: PathBuf,
    /// `database_type` from the file's metadata (`GeoIP2-City`, `DBIP-Country-Lite`…).
    pub database_type: String,
    /// 4 (IPv4 only) or 6 (IPv6, usually with IPv4 under `::/96`).
    pub ip_version: u16,
    /// When the database was built, in seconds since the Unix epoch.
    pub build_epoch: u64,
    /// The file's size in bytes (= memory it occupies).
    pub size: u64,
    /// Whether any of the records sampled at open carried a country, continent or
    /// coordinates. `false` means this is not a location database (an ASN or ISP one, say):
    /// it opens, but lookups in it never match.
    pub has_location_data: bool,
    /// The file's identity when it was read, so a watcher can tell when it is replaced.
    pub(crate) stamp: FileStamp,
}

/// One or several GeoIP databases, looked up in order. Cheap to share (`Arc<GeoDb>`); the
/// watcher in [`crate::geo::watch`] builds a new one when files change and swaps it in.
pub struct GeoDb {
    databases: Vec<Database>,
}

struct Database {
    info: DatabaseInfo,
    /// The path as a shared string, handed to every [`Location`] this file answers.
    name: Arc<str>,
    reader: Reader<Vec<u8>>,
}

impl GeoDb {
    /// A database set with no files: every lookup answers `None`. For servers configured
    /// without GeoIP.
    pub fn empty() -> GeoDb {
        GeoDb {
            databases: Vec::new(),
        }
    }

    /// Opens every file in `paths` (in lookup order). Fails on the first file that cannot be
    /// read or is not a valid MaxMind DB; the error names the file. An empty `paths` gives
    /// [`GeoDb::empty`].
    ///
    /// This reads whole files and walks part of each tree: call it from a blocking context
    /// (`tokio::task::spawn_blocking`) when on the runtime.
    pub fn open<P: AsRef<Path>>(paths: &[P]) -> Result<GeoDb, GeoError> {
        let databases = paths
            .iter()
            .map(|p| Database::open(p.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(GeoDb { databases })
    }

    /// The location of `ip` according to the first database that has one, or `None`.
    pub fn lookup(&self, ip: IpAddr) -> Option<Location> {
        // `::ffff:a.b.c.d` → `a.b.c.d`; other IPv6 addresses unchanged.
        let ip = ip.to_canonical();
        self.databases.iter().find_map(|db| db.lookup(ip))
    }

    /// The opened files, in lookup order.
    pub fn databases(&self) -> impl ExactSizeIterator<Item = &DatabaseInfo> {
        self.databases.iter().map(|d| &d.info)
    }

    /// True when no file is loaded.
    pub fn is_empty(&self) -> bool {
        self.databases.is_empty()
    }

    /// The paths of the opened files, in lookup order.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.databases.iter().map(|d| d.info.path.clone()).collect()
    }
}

impl fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.databases.iter().map(|d| &d.info))
            .finish()
    }
}

impl Database {
    fn open(path: &Path) -> Result<Database, GeoError> {
        let started = std::time::Instant::now();
        let read_err = |source| GeoError::Read {
            path: path.to_owned(),
            source,
        };
        let invalid = |e: MaxMindDbError| GeoError::Invalid {
            path: path.to_owned(),
            reason: e.to_string(),
        };
        // Stamp the handle we read, not the path: if the file is replaced meanwhile, the stamp
        // still describes exactly the bytes we hold, and the watcher will see the new file.
        let mut file = File::open(path).map_err(read_err)?;
        let meta = file.metadata().map_err(read_err)?;
        let mut buf = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        file.read_to_end(&mut buf).map_err(read_err)?;
        let stamp = FileStamp::of(&meta);
        let size = buf.len() as u64;

        let reader = Reader::from_source(buf).map_err(invalid)?;
        let metadata = reader.metadata();
        if metadata.binary_format_major_version != 2 {
            return Err(GeoError::Invalid {
                path: path.to_owned(),
                reason: format!(
                    "binary format version {} (only 2 is supported)",
                    metadata.binary_format_major_version
                ),
            });
        }
        let has_location_data = sample(&reader).map_err(invalid)?;
        let info = DatabaseInfo {
            path: path.to_owned(),
            database_type: metadata.database_type.clone(),
            ip_version: metadata.ip_version,
            build_epoch: metadata.build_epoch,
            size,
            has_location_data,
            stamp,
        };
        if !has_location_data {
            tracing::warn!(
                path = %path.display(),
                database_type = %info.database_type,
                "GeoIP database has no country, continent or coordinates in its first records; \
                 is it an ASN/ISP database? Lookups in it will not match"
            );
        }
        tracing::info!(
            file = %path.display(),
            kind = %info.database_type,
            bytes = size,
            built = info.build_epoch,
            ms = started.elapsed().as_secs_f64() * 1e3,
            "GeoIP database loaded"
        );
        Ok(Database {
            name: Arc::from(path.display().to_string()),
            info,
            reader,
        })
    }

    fn lookup(&self, ip: IpAddr) -> Option<Location> {
        if let Some(location) = self.lookup_in_tree(ip, ip) {
            return Some(location);
        }
        // Some writers store IPv4 only under ::ffff:0:0/96 rather than ::/96 (MaxMind's own
        // databases alias the two, so this second walk is only a cost on misses).
        match ip {
            IpAddr::V4(v4) if self.info.ip_version == 6 => {
                self.lookup_in_tree(IpAddr::V6(v4.to_ipv6_mapped()), ip)
            }
            _ => None,
        }
    }

    /// Looks `key` up in the tree; reports the network in the family of `client`.
    fn lookup_in_tree(&self, key: IpAddr, client: IpAddr) -> Option<Location> {
        let result = match self.reader.lookup(key) {
            Ok(r) => r,
            // IPv6 in an IPv4-only database: simply not here.
            Err(MaxMindDbError::InvalidInput { .. }) => return None,
            Err(e) => {
                tracing::debug!(db = %self.name, %key, error = %e, "GeoIP lookup failed");
                return None;
            }
        };
        if !result.has_data() {
            return None;
        }
        let facts = match result.decode::<Record>() {
            Ok(Some(record)) => record.facts()?,
            Ok(None) => return None,
            Err(e) => {
                tracing::debug!(db = %self.name, %key, error = %e, "GeoIP record undecodable");
                return None;
            }
        };
        let network = result.network().ok()?;
        let network = client_network(network.ip(), network.prefix(), client)?;
        Some(Location {
            country: facts.country,
            continent: facts.continent,
            coords: facts.coords,
            coords_source: facts.coords_source,
            city: facts.city,
            network,
            database: Arc::clone(&self.name),
        })
    }
}

/// The matched network `addr/prefix` expressed in the family of the client address: an IPv4
/// client matched in IPv6 terms (under `::/96` or `::ffff:0:0/96`, or above the IPv4 subtree)
/// gets the IPv4 network of the last 32 bits.
fn client_network(addr: IpAddr, prefix: u8, client: IpAddr) -> Option<IpNet> {
    let net = match (client, addr) {
        (IpAddr::V4(_), IpAddr::V4(a)) => IpNet::V4(Ipv4Net::new(a, prefix).ok()?),
        (IpAddr::V4(c), IpAddr::V6(_)) => {
            IpNet::V4(Ipv4Net::new(c, prefix.saturating_sub(96)).ok()?.trunc())
        }
        (IpAddr::V6(_), IpAddr::V6(a)) => IpNet::V6(Ipv6Net::new(a, prefix).ok()?),
        // Not produced by maxminddb; keep the client's family regardless.
        (IpAddr::V6(_), IpAddr::V4(a)) => {
            IpNet::V6(Ipv6Net::new(a.to_ipv6_mapped(), prefix + 96).ok()?)
        }
    };
    Some(net.trunc())
}

/// Walks the first [`SAMPLE_RECORDS`] networks of the tree, decoding each record: a corrupt
/// tree or data section fails here. Returns whether any record had location data.
fn sample(reader: &Reader<Vec<u8>>) -> Result<bool, MaxMindDbError> {
    let mut any_location = false;
    for item in reader.networks(Default::default())?.take(SAMPLE_RECORDS) {
        let item = item?;
        if let Some(record) = item.decode::<Record>()? {
            any_location |= record.facts().is_some();
        }
    }
    Ok(any_location)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_network_converts_families() {
        let v4: IpAddr = "81.2.69.142".parse().unwrap();
        let mapped_net: IpAddr = "::ffff:81.2.69.0".parse().unwrap();
        assert_eq!(
            client_network(mapped_net, 120, v4).unwrap(),
            "81.2.69.0/24".parse::<IpNet>().unwrap()
        );
        let compat_net: IpAddr = "::5102:4500".parse().unwrap();
        assert_eq!(
            client_network(compat_net, 118, v4).unwrap(),
            "81.2.68.0/22".parse::<IpNet>().unwrap()
        );
        // Matched above the IPv4 subtree: the whole IPv4 space.
        assert_eq!(
            client_network("::".parse().unwrap(), 64, v4).unwrap(),
            "0.0.0.0/0".parse::<IpNet>().unwrap()
        );
        assert_eq!(
            client_network("81.2.69.142".parse().unwrap(), 31, v4).unwrap(),
            "81.2.69.142/31".parse::<IpNet>().unwrap()
        );
        let v6: IpAddr = "2001:480:10::1".parse().unwrap();
        assert_eq!(
            client_network("2001:480:10::".parse().unwrap(), 48, v6).unwrap(),
            "2001:480:10::/48".parse::<IpNet>().unwrap()
        );
    }
}
