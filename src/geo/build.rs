//! Building a GeoIP database from a CSV file (`ayadns geoip build CSV -o FILE`).
//!
//! Users need their own networks in GeoIP: office and VPN ranges, a CDN's anycast blocks, test
//! networks for a demo. Rather than inventing another override format, we write a standard
//! MaxMind DB, so the same file works with [`crate::geo::GeoDb`], `mmdblookup` and every other
//! reader, and can be listed in front of a downloaded database (first file wins).
//!
//! Input: a CSV with a header row. Blank lines and lines starting with `#` are
//! skipped. Columns (any order):
//!
//! | column | |
//! |---|---|
//! | `network` | a CIDR (`81.2.69.0/24`, `2001:480:10::/48`) — **or** `start` and `end` |
//! | `start`, `end` | an inclusive address range, split into the CIDRs that cover it exactly |
//! | `country` | ISO code (`GB`), may be empty |
//! | `continent` | `AF AN AS EU NA OC SA`, may be empty: then taken from the country |
//! | `latitude`, `longitude` | degrees, both or neither |
//! | `city` | English name, may be empty |
//!
//! Every row needs a country, continent or coordinates. Overlapping networks are fine — the more
//! specific one wins for the addresses it covers, whatever the row order — but the same network
//! twice is an error, as are host bits in a CIDR (`81.2.69.1/24` is likely a typo). Errors name
//! `file:line`.
//!
//! Output: the nested GeoIP2-City layout (`country.iso_code`, `country.names.en`,
//! `continent.code`, `location.latitude`/`longitude`, `city.names.en`), database type
//! [`DATABASE_TYPE`], an IPv6 tree with IPv4 under `::/96` (and reachable through the
//! IPv4-mapped, 6to4 and Teredo aliases). The file is written under a temporary name, read back
//! with [`GeoDb`], and only then renamed over `out`, so a running server watching `out` never
//! sees a half-written or unreadable database.
//!
//! Written with the `mmdb-writer` crate (pure Rust, modelled on MaxMind's Go `mmdbwriter`).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::{IpNet, Ipv4Subnets, Ipv6Subnets};
use mmdb_writer::{Value, Writer};

use super::centroids;
use super::error::GeoError;
use super::location::{Continent, CountryCode};
use super::reader::GeoDb;

/// The `database_type` written into built databases' metadata.
pub const DATABASE_TYPE: &str = "ayadns-GeoIP2-City";

/// What [`build_from_csv`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildReport {
    /// The database file written.
    pub output: PathBuf,
    /// Data rows read from the CSV.
    pub rows: usize,
    /// IPv4 networks inserted (a range row may give several).
    pub ipv4_networks: usize,
    /// IPv6 networks inserted.
    pub ipv6_networks: usize,
    /// Size of the written file.
    pub bytes: u64,
}

/// One CSV row, validated.
struct Row {
    line: u64,
    networks: Vec<IpNet>,
    value: Value,
}

/// Reads `csv` (format in the module docs) and writes a MaxMind DB to `out`, atomically.
pub fn build_from_csv(csv: &Path, out: &Path) -> Result<BuildReport, GeoError> {
    let rows = read_rows(csv)?;

    // Insert less specific networks first, so a more specific one always overrides the part of
    // a bigger one it covers, whatever the row order. IPv4 /p sits at depth 96 + p in the tree.
    let mut inserts: Vec<(u8, IpNet, &Row)> = rows
        .iter()
        .flat_map(|row| row.networks.iter().map(move |net| (depth(net), *net, row)))
        .collect();
    inserts.sort_by_key(|&(depth, _, row)| (depth, row.line));

    let mut seen: HashMap<IpNet, u64> = HashMap::new();
    let description = format!(
        "ayadns GeoIP database built from {}",
        csv.file_name().unwrap_or(csv.as_os_str()).to_string_lossy()
    );
    let mut writer = Writer::builder(DATABASE_TYPE)
        .description(&[("en", description.as_str())])
        .build();
    let (mut ipv4_networks, mut ipv6_networks) = (0, 0);
    for (_, net, row) in inserts {
        match seen.entry(net) {
            Entry::Occupied(first) => {
                return Err(csv_err(
                    csv,
                    row.line,
                    format!("network {net} is already on line {}", first.get()),
                ));
            }
            Entry::Vacant(slot) => {
                slot.insert(row.line);
            }
        }
        writer
            .insert_value(net, row.value.clone())
            .map_err(|e| csv_err(csv, row.line, format!("network {net}: {e}")))?;
        match net {
            IpNet::V4(_) => ipv4_networks += 1,
            IpNet::V6(_) => ipv6_networks += 1,
        }
    }
    let bytes = writer.to_bytes().map_err(|e| GeoError::Build {
        path: out.to_owned(),
        reason: e.to_string(),
    })?;
    write_atomically(out, &bytes)?;
    Ok(BuildReport {
        output: out.to_owned(),
        rows: rows.len(),
        ipv4_networks,
        ipv6_networks,
        bytes: bytes.len() as u64,
    })
}

/// Position of a network in an IPv6 tree (IPv4 lives under `::/96`).
fn depth(net: &IpNet) -> u8 {
    match net {
        IpNet::V4(n) => 96 + n.prefix_len(),
        IpNet::V6(n) => n.prefix_len(),
    }
}

fn csv_err(path: &Path, line: u64, reason: impl Into<String>) -> GeoError {
    GeoError::Csv {
        path: path.to_owned(),
        line,
        reason: reason.into(),
    }
}

/// The columns we know, by header name.
#[derive(Default)]
struct Columns {
    network: Option<usize>,
    start: Option<usize>,
    end: Option<usize>,
    country: Option<usize>,
    continent: Option<usize>,
    latitude: Option<usize>,
    longitude: Option<usize>,
    city: Option<usize>,
}

fn read_rows(path: &Path) -> Result<Vec<Row>, GeoError> {
    let bytes = fs::read(path).map_err(|source| GeoError::Io {
        path: path.to_owned(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        csv_err(path, line, "not valid UTF-8")
    })?;
    // Drop comment and blank lines ourselves, remembering where each kept line came from, so
    // errors name the line in the user's file (the csv crate's own counting skips comments).
    let mut kept = String::with_capacity(text.len());
    let mut origin: Vec<u64> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        kept.push_str(line);
        kept.push('\n');
        origin.push(index as u64 + 1);
    }
    let file_line = |pos: Option<&csv::Position>| {
        let kept_line = pos.map_or(1, csv::Position::line).max(1);
        usize::try_from(kept_line - 1)
            .ok()
            .and_then(|i| origin.get(i).copied())
            .unwrap_or_else(|| (text.lines().count() as u64).max(1))
    };

    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(kept.as_bytes());
    let from_csv = |e: csv::Error| {
        let line = file_line(e.position());
        csv_err(path, line, csv_kind_message(e.into_kind()))
    };

    let headers = reader.headers().map_err(from_csv)?.clone();
    let header_line = file_line(headers.position());
    let cols = columns(&headers).map_err(|reason| csv_err(path, header_line, reason))?;

    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(from_csv)?;
        let line = file_line(record.position());
        let row = parse_row(&cols, &record, line).map_err(|reason| csv_err(path, line, reason))?;
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(csv_err(path, header_line, "no data rows after the header"));
    }
    Ok(rows)
}

fn csv_kind_message(kind: csv::ErrorKind) -> String {
    match kind {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("expected {expected_len} fields like the header, found {len}"),
        other => format!("{other:?}"),
    }
}

fn columns(headers: &csv::StringRecord) -> Result<Columns, String> {
    let mut cols = Columns::default();
    for (i, name) in headers.iter().enumerate() {
        let slot = match name.to_ascii_lowercase().as_str() {
            "network" => &mut cols.network,
            "start" => &mut cols.start,
            "end" => &mut cols.end,
            "country" => &mut cols.country,
            "continent" => &mut cols.continent,
            "latitude" => &mut cols.latitude,
            "longitude" => &mut cols.longitude,
            "city" => &mut cols.city,
            other => {
                return Err(format!(
                    "unknown column {other:?} (expected network or start,end, and country, \
                     continent, latitude, longitude, city)"
                ));
            }
        };
        if slot.replace(i).is_some() {
            return Err(format!("column {name:?} appears twice"));
        }
    }
    match (cols.network, cols.start, cols.end) {
        (Some(_), None, None) | (None, Some(_), Some(_)) => {}
        (None, None, None) => return Err("missing column: network (or start and end)".into()),
        (Some(_), _, _) => return Err("use either a network column or start,end, not both".into()),
        _ => return Err("start and end columns go together".into()),
    }
    if cols.latitude.is_some() != cols.longitude.is_some() {
        return Err("latitude and longitude columns go together".into());
    }
    Ok(cols)
}

fn parse_row(cols: &Columns, record: &csv::StringRecord, line: u64) -> Result<Row, String> {
    let field = |col: Option<usize>| col.and_then(|i| record.get(i)).unwrap_or("");

    let networks = match cols.network {
        Some(i) => vec![parse_network(field(Some(i)))?],
        None => parse_range(field(cols.start), field(cols.end))?,
    };

    let country = match field(cols.country) {
        "" => None,
        c => Some(
            CountryCode::new(c).ok_or_else(|| format!("country {c:?} is not a two-letter code"))?,
        ),
    };
    let continent = match field(cols.continent) {
        "" => country.and_then(centroids::continent_of),
        c => Some(c.parse::<Continent>().map_err(|e| e.to_string())?),
    };
    let coords = match (field(cols.latitude), field(cols.longitude)) {
        ("", "") => None,
        ("", _) | (_, "") => {
            return Err("latitude and longitude must be both set or both empty".into());
        }
        (lat, lon) => Some((
            parse_degrees(lat, "latitude", 90.0)?,
            parse_degrees(lon, "longitude", 180.0)?,
        )),
    };
    let city = field(cols.city);
    if country.is_none() && continent.is_none() && coords.is_none() {
        return Err("row has no country, continent or coordinates".into());
    }

    let mut record = Vec::new();
    if let Some(code) = country {
        let mut c = vec![("iso_code", Value::from(code.as_str()))];
        if let Some(known) = centroids::country(code) {
            c.push(("names", Value::map([("en", Value::from(known.name))])));
        }
        record.push(("country", Value::map(c)));
    }
    if let Some(continent) = continent {
        record.push((
            "continent",
            Value::map([("code", Value::from(continent.code()))]),
        ));
    }
    if let Some((lat, lon)) = coords {
        record.push((
            "location",
            Value::map([
                ("latitude", Value::Double(lat)),
                ("longitude", Value::Double(lon)),
            ]),
        ));
    }
    if !city.is_empty() {
        record.push((
            "city",
            Value::map([("names", Value::map([("en", Value::from(city))]))]),
        ));
    }
    Ok(Row {
        line,
        networks,
        value: Value::map(record),
    })
}

fn parse_network(text: &str) -> Result<IpNet, String> {
    if text.is_empty() {
        return Err("network is empty".into());
    }
    let net: IpNet = text
        .parse()
        .map_err(|_| format!("network {text:?} is not a CIDR like 192.0.2.0/24"))?;
    if net != net.trunc() {
        return Err(format!(
            "network {net} has host bits set (did you mean {}?)",
            net.trunc()
        ));
    }
    Ok(net)
}

fn parse_range(start: &str, end: &str) -> Result<Vec<IpNet>, String> {
    let parse = |text: &str, what: &str| {
        text.parse::<IpAddr>()
            .map_err(|_| format!("{what} {text:?} is not an IP address"))
    };
    let (start, end) = (parse(start, "start")?, parse(end, "end")?);
    match (start, end) {
        (IpAddr::V4(s), IpAddr::V4(e)) if s <= e => {
            Ok(Ipv4Subnets::new(s, e, 0).map(IpNet::V4).collect())
        }
        (IpAddr::V6(s), IpAddr::V6(e)) if s <= e => {
            Ok(Ipv6Subnets::new(s, e, 0).map(IpNet::V6).collect())
        }
        (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
            Err(format!("range start {start} is after end {end}"))
        }
        _ => Err(format!("range {start} - {end} mixes IPv4 and IPv6")),
    }
}

fn parse_degrees(text: &str, what: &str, limit: f64) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("{what} {text:?} is not a number"))?;
    if !value.is_finite() || value.abs() > limit {
        return Err(format!("{what} {text} is outside -{limit}..{limit}"));
    }
    Ok(value)
}

/// Writes `bytes` to a temporary file beside `out`, checks it reads back as a GeoIP database,
/// then renames it over `out`.
fn write_atomically(out: &Path, bytes: &[u8]) -> Result<(), GeoError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| GeoError::Io { path, source }
    };
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = out
        .file_name()
        .ok_or_else(|| GeoError::Io {
            path: out.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
        })?
        .to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));

    let result = (|| {
        let mut file = fs::File::create(&tmp).map_err(io(&tmp))?;
        file.write_all(bytes).map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
        drop(file);
        GeoDb::open(&[&tmp]).map_err(|e| GeoError::Build {
            path: out.to_owned(),
            reason: format!("the written database does not read back: {e}"),
        })?;
        fs::rename(&tmp, out).map_err(io(out))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(header: &str, line: &str) -> Result<Row, String> {
        let data = format!("{header}\n{line}\n");
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(data.as_bytes());
        let cols = columns(reader.headers().unwrap())?;
        let record = reader.records().next().unwrap().unwrap();
        parse_row(&cols, &record, 2)
    }

    const HEADER: &str = "network,country,continent,latitude,longitude,city";

    #[test]
    fn rows_validate() {
        assert!(row(HEADER, "81.2.69.0/24,GB,EU,51.5,-0.09,London").is_ok());
        assert!(row(HEADER, "81.2.69.0/24,gb,,,,").is_ok());
        assert!(row(HEADER, "81.2.69.0/24,,EU,,,").is_ok());
        let err = |line| row(HEADER, line).err().unwrap();
        assert!(err("81.2.69.1/24,GB,,,,").contains("did you mean 81.2.69.0/24"));
        assert!(err("81.2.69.0/33,GB,,,,").contains("not a CIDR"));
        assert!(err("81.2.69.0/24,GBR,,,,").contains("two-letter"));
        assert!(err("81.2.69.0/24,GB,XX,,,").contains("continent"));
        assert!(err("81.2.69.0/24,GB,,91,0,").contains("latitude"));
        assert!(err("81.2.69.0/24,GB,,51,,").contains("both"));
        assert!(err("81.2.69.0/24,,,,,Nowhere").contains("no country"));
    }

    #[test]
    fn headers_validate() {
        assert!(
            row("network,contry", "81.2.69.0/24,GB")
                .err()
                .unwrap()
                .contains("contry")
        );
        assert!(
            row("country,city", "GB,London")
                .err()
                .unwrap()
                .contains("missing")
        );
        assert!(
            row("start,country", "1.1.1.1,GB")
                .err()
                .unwrap()
                .contains("together")
        );
        assert!(row("network,start,end,country", "1.0.0.0/8,1.0.0.0,1.1.1.1,GB").is_err());
    }

    #[test]
    fn ranges_split_into_cidrs() {
        let nets = parse_range("10.0.0.0", "10.0.2.255").unwrap();
        let want: Vec<IpNet> = vec![
            "10.0.0.0/23".parse().unwrap(),
            "10.0.2.0/24".parse().unwrap(),
        ];
        assert_eq!(nets, want);
        let nets = parse_range("2001:db8::", "2001:db8::ffff").unwrap();
        assert_eq!(nets, vec!["2001:db8::/112".parse::<IpNet>().unwrap()]);
        assert!(
            parse_range("10.0.0.5", "10.0.0.1")
                .unwrap_err()
                .contains("after")
        );
        assert!(
            parse_range("10.0.0.5", "::1")
                .unwrap_err()
                .contains("mixes")
        );
    }
}
