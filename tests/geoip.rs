//! GeoIP against real database files: MaxMind's test databases, flat-schema files, a real
//! DB-IP country database (all in `../shared/geoip`, beside the project), databases built from
//! CSV, and reloading when files are replaced on disk. No mocks: every lookup goes through a
//! real `.mmdb` file.

use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use ayadns::geo::{
    Continent, CoordsSource, CountryCode, GeoDb, GeoError, Location, PollOutcome, Watcher,
    build_from_csv, centroids,
};
use ipnet::IpNet;
use mmdb_writer::{Ipv4Aliasing, Value, Writer};
use tokio_util::sync::CancellationToken;

// ---------------------------------------------------------------------------------------------
// helpers

/// `../shared/geoip`, relative to the project root (CI clones the project with `shared` beside).
fn shared() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/geoip");
    assert!(
        dir.is_dir(),
        "{} is missing: the GeoIP tests need the shared data directory beside the project",
        dir.display()
    );
    dir
}

fn maxmind(name: &str) -> PathBuf {
    shared().join("maxmind-test").join(name)
}

fn sample_csv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("geoip/sample.csv")
}

fn open(path: impl AsRef<Path>) -> GeoDb {
    let path = path.as_ref();
    GeoDb::open(&[path]).unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn cc(s: &str) -> Option<CountryCode> {
    Some(CountryCode::new(s).unwrap())
}

fn find(db: &GeoDb, addr: &str) -> Location {
    db.lookup(ip(addr))
        .unwrap_or_else(|| panic!("{addr}: no location in {db:?}"))
}

#[track_caller]
fn assert_coords(loc: &Location, lat: f64, lon: f64, source: CoordsSource) {
    let (got_lat, got_lon) = loc.coords.unwrap_or_else(|| panic!("no coords in {loc}"));
    assert!(
        (got_lat - lat).abs() < 1e-3 && (got_lon - lon).abs() < 1e-3,
        "coords {got_lat},{got_lon}, want {lat},{lon} in {loc}"
    );
    assert_eq!(loc.coords_source, Some(source), "{loc}");
}

#[track_caller]
fn assert_country_centre(loc: &Location) {
    let code = loc.country.expect("a country");
    let (lat, lon) = centroids::centre_of(code).expect("a centre");
    assert_coords(loc, lat, lon, CoordsSource::CountryCentre);
}

// ---------------------------------------------------------------------------------------------
// MaxMind test databases, nested GeoIP2 schema (values from NETWORKS-SUMMARY.txt)

#[test]
fn maxmind_city_databases() {
    for (file, san_diego) in [
        (
            "GeoIP2-City-Test.mmdb",
            ("2001:480:10::/48", 32.7203, -117.1552),
        ),
        (
            "GeoLite2-City-Test.mmdb",
            ("2001:480::/43", 32.7203, -117.1552),
        ),
    ] {
        let path = maxmind(file);
        let db = open(&path);
        let info = db.databases().next().unwrap();
        assert!(info.has_location_data, "{file}");
        assert!(
            info.database_type.ends_with("-City"),
            "{}",
            info.database_type
        );

        let london = find(&db, "81.2.69.142");
        assert_eq!(london.country, cc("GB"), "{file}: {london}");
        assert_eq!(london.continent, Some(Continent::Europe));
        assert_eq!(london.city.as_deref(), Some("London"));
        assert_coords(&london, 51.5142, -0.0931, CoordsSource::Database);
        assert_eq!(london.network, net("81.2.69.142/31"));
        assert_eq!(&*london.database, path.display().to_string());

        assert_eq!(find(&db, "81.2.69.150").network, net("81.2.69.144/28"));
        assert_eq!(find(&db, "81.2.69.170").network, net("81.2.69.160/27"));

        let milton = find(&db, "216.160.83.58");
        assert_eq!(milton.country, cc("US"));
        assert_eq!(milton.continent, Some(Continent::NorthAmerica));
        assert_eq!(milton.city.as_deref(), Some("Milton"));
        assert_coords(&milton, 47.2513, -122.3149, CoordsSource::Database);
        assert_eq!(milton.network, net("216.160.83.56/29"));

        let changchun = find(&db, "175.16.199.1");
        assert_eq!(changchun.country, cc("CN"));
        assert_eq!(changchun.continent, Some(Continent::Asia));
        assert_eq!(changchun.city.as_deref(), Some("Changchun"));
        assert_coords(&changchun, 43.88, 125.3228, CoordsSource::Database);
        assert_eq!(changchun.network, net("175.16.199.0/24"));

        let linkoping = find(&db, "89.160.20.113");
        assert_eq!(linkoping.country, cc("SE"));
        assert_eq!(linkoping.city.as_deref(), Some("Linköping"));
        assert_coords(&linkoping, 58.4167, 15.6167, CoordsSource::Database);
        assert_eq!(linkoping.network, net("89.160.20.112/28"));

        let ph = find(&db, "202.196.224.5");
        assert_eq!(ph.country, cc("PH"));
        assert_eq!(ph.city, None);
        assert_coords(&ph, 13.0, 122.0, CoordsSource::Database);
        assert_eq!(ph.network, net("202.196.224.0/20"));

        let sd = find(&db, "2001:480:10::1");
        assert_eq!(sd.country, cc("US"), "{file}: {sd}");
        assert_eq!(sd.city.as_deref(), Some("San Diego"));
        assert_coords(&sd, san_diego.1, san_diego.2, CoordsSource::Database);
        assert_eq!(sd.network, net(san_diego.0));

        // A country-level IPv6 record (JP) has coordinates in the City databases.
        let jp = find(&db, "2001:218::1");
        assert_eq!(jp.country, cc("JP"));
        assert_coords(&jp, 35.68536, 139.75309, CoordsSource::Database);

        // Addresses the databases do not cover.
        for addr in [
            "127.0.0.1",
            "10.0.0.1",
            "192.168.1.1",
            "::1",
            "fe80::1",
            "2c0f:ff00::1",
        ] {
            assert_eq!(db.lookup(ip(addr)), None, "{file}: {addr}");
        }
    }
}

#[test]
fn ipv4_mapped_addresses_are_looked_up_as_ipv4() {
    let db = open(maxmind("GeoIP2-City-Test.mmdb"));
    let plain = find(&db, "81.2.69.142");
    let mapped = find(&db, "::ffff:81.2.69.142");
    assert_eq!(mapped, plain);
    assert_eq!(mapped.network, net("81.2.69.142/31"));
    assert!(matches!(mapped.network, IpNet::V4(_)));

    // Same in a database whose IPv4 data only lives under ::/96 (DB-IP).
    let dbip = open(shared().join("real/dbip-country.mmdb"));
    let mapped = find(&dbip, "::ffff:8.8.8.8");
    assert!(matches!(mapped.network, IpNet::V4(_)), "{mapped}");
    assert_eq!(mapped, find(&dbip, "8.8.8.8"));
}

#[test]
fn maxmind_city_edge_records() {
    let db = open(maxmind("GeoIP2-City-Test.mmdb"));
    // Only a continent in the record: still a location, for continent rules.
    let eu = find(&db, "2.3.3.1");
    assert_eq!(eu.country, None);
    assert_eq!(eu.continent, Some(Continent::Europe));
    assert_eq!(eu.coords, None);
    assert_eq!(eu.coords_source, None);
    assert_eq!(eu.network, net("2.3.3.0/24"));
    // The country is where the address is used, not where it is registered (FR).
    assert_eq!(find(&db, "2.125.160.217").country, cc("GB"));
    // An anycast record with no location at all is no answer.
    assert_eq!(db.lookup(ip("214.1.1.1")), None);
    // A record with a country but without a city.
    let bt = find(&db, "67.43.156.1");
    assert_eq!((bt.country, bt.city.as_deref()), (cc("BT"), None));
    assert_coords(&bt, 27.5, 90.5, CoordsSource::Database);
}

#[test]
fn maxmind_country_databases_get_country_centres() {
    for file in ["GeoIP2-Country-Test.mmdb", "GeoLite2-Country-Test.mmdb"] {
        let db = open(maxmind(file));
        let gb = find(&db, "81.2.69.142");
        assert_eq!(gb.country, cc("GB"), "{file}");
        assert_eq!(gb.continent, Some(Continent::Europe));
        assert_eq!(gb.city, None);
        assert_eq!(gb.network, net("81.2.69.142/31"));
        assert_country_centre(&gb);

        let us = find(&db, "216.160.83.56");
        assert_eq!(us.country, cc("US"));
        assert_country_centre(&us);

        let gi = find(&db, "217.65.48.1");
        assert_eq!(gi.country, cc("GI"));
        assert_eq!(gi.network, net("217.65.48.0/29"));
        assert_eq!(db.lookup(ip("127.0.0.1")), None);
    }
}

// ---------------------------------------------------------------------------------------------
// flat schema

#[test]
fn flat_databases_float_and_string_coordinates() {
    for file in ["flat-float.mmdb", "flat-string.mmdb"] {
        let db = open(shared().join(file));
        let loc = find(&db, "192.0.2.77");
        assert_eq!(loc.country, cc("DE"), "{file}");
        // The flat schema has no continent: filled from the country.
        assert_eq!(loc.continent, Some(Continent::Europe));
        assert_eq!(loc.city.as_deref(), Some("Frankfurt"));
        assert_coords(&loc, 50.1109, 8.6821, CoordsSource::Database);
        assert_eq!(loc.network, net("192.0.2.0/24"));
        assert_eq!(db.lookup(ip("192.0.3.1")), None);
    }
}

#[test]
fn real_dbip_country_database() {
    let path = shared().join("real/dbip-country.mmdb");
    let started = std::time::Instant::now();
    let db = open(&path);
    // An 8 MB database loads in milliseconds; allow plenty for a slow debug build on CI.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let info = db.databases().next().unwrap();
    assert!(info.has_location_data);
    assert!(info.size > 1_000_000, "{info:?}");

    let google = find(&db, "8.8.8.8");
    assert_eq!(google.country, cc("US"));
    assert_eq!(google.continent, Some(Continent::NorthAmerica));
    assert_country_centre(&google);
    assert!(google.network.contains(&ip("8.8.8.8")), "{google}");
    assert!(
        matches!(google.network, IpNet::V4(n) if n.prefix_len() <= 24),
        "{google}"
    );

    assert_eq!(find(&db, "1.1.1.1").country, cc("AU"));
    assert_eq!(find(&db, "1.1.1.1").continent, Some(Continent::Oceania));
    let v6 = find(&db, "2001:4860:4860::8888");
    assert!(
        v6.country.is_some() && matches!(v6.network, IpNet::V6(_)),
        "{v6}"
    );
    for addr in ["127.0.0.1", "10.1.2.3", "::1"] {
        assert_eq!(db.lookup(ip(addr)), None, "{addr}");
    }
}

// ---------------------------------------------------------------------------------------------
// databases without location data, several files, open errors

#[test]
fn non_location_databases_open_and_answer_nothing() {
    // (file, an address that has a record in it)
    for (file, addr) in [
        ("GeoLite2-ASN-Test.mmdb", "1.128.0.1"),
        ("GeoIP2-ISP-Test.mmdb", "1.128.0.1"),
        ("MaxMind-DB-test-decoder.mmdb", "1.1.1.1"),
        ("MaxMind-DB-test-ipv4-24.mmdb", "1.1.1.1"),
        ("MaxMind-DB-test-ipv6-32.mmdb", "::1:ffff:ffff"),
        ("MaxMind-DB-test-mixed-24.mmdb", "1.1.1.1"),
    ] {
        let db = open(maxmind(file));
        let info = db.databases().next().unwrap();
        assert!(!info.has_location_data, "{file}: {info:?}");
        for a in [addr, "81.2.69.142", "2001:480:10::1", "::ffff:1.1.1.1"] {
            assert_eq!(db.lookup(ip(a)), None, "{file}: {a}");
        }
    }
    // IPv6 in an IPv4-only database is simply not there.
    let v4only = open(maxmind("MaxMind-DB-test-ipv4-24.mmdb"));
    assert_eq!(v4only.databases().next().unwrap().ip_version, 4);
    assert_eq!(v4only.lookup(ip("2001:db8::1")), None);
}

#[test]
fn several_files_first_answer_wins() {
    let asn = maxmind("GeoLite2-ASN-Test.mmdb");
    let city = maxmind("GeoIP2-City-Test.mmdb");
    let country = maxmind("GeoIP2-Country-Test.mmdb");
    let flat = shared().join("flat-float.mmdb");
    let v4only = maxmind("MaxMind-DB-test-ipv4-24.mmdb");

    // A database without location data in front does not hide the next one.
    let db = GeoDb::open(&[&asn, &city]).unwrap();
    assert_eq!(db.databases().len(), 2);
    let loc = find(&db, "81.2.69.142");
    assert_eq!(&*loc.database, city.display().to_string());
    assert_eq!(loc.city.as_deref(), Some("London"));

    // Order decides: the country database answers first, so no city.
    let db = GeoDb::open(&[&country, &city]).unwrap();
    let loc = find(&db, "81.2.69.142");
    assert_eq!(&*loc.database, country.display().to_string());
    assert_eq!(loc.coords_source, Some(CoordsSource::CountryCentre));
    // ...but what the first does not cover, the second answers.
    assert_eq!(
        &*find(&db, "214.0.0.1").database,
        city.display().to_string()
    );

    // Separate files per family (like DB-IP's IPv4 and IPv6 files): an IPv4-only file first.
    let db = GeoDb::open(&[&v4only, &flat, &city]).unwrap();
    assert_eq!(
        &*find(&db, "192.0.2.1").database,
        flat.display().to_string()
    );
    assert_eq!(
        &*find(&db, "2001:480:10::1").database,
        city.display().to_string()
    );
    assert_eq!(db.paths(), vec![v4only, flat, city]);

    let empty = GeoDb::open::<PathBuf>(&[]).unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.lookup(ip("81.2.69.142")), None);
}

#[test]
fn open_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();

    let missing = dir.path().join("missing.mmdb");
    let err = GeoDb::open(&[&missing]).unwrap_err();
    assert!(matches!(err, GeoError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains("missing.mmdb"), "{err}");
    assert_eq!(err.path(), missing);

    // Not an mmdb at all.
    let err = GeoDb::open(&[sample_csv()]).unwrap_err();
    assert!(matches!(err, GeoError::Invalid { .. }), "{err:?}");
    assert!(err.to_string().contains("sample.csv"), "{err}");

    // Truncated copies, cut at various points, are all rejected at open.
    let good = std::fs::read(maxmind("GeoIP2-City-Test.mmdb")).unwrap();
    for keep in [
        0,
        16,
        good.len() / 2,
        good.len() - 200,
        good.len() - 40,
        good.len() - 1,
    ] {
        let path = dir.path().join(format!("truncated-{keep}.mmdb"));
        std::fs::write(&path, &good[..keep]).unwrap();
        let err = GeoDb::open(&[&path]).unwrap_err();
        assert!(matches!(err, GeoError::Invalid { .. }), "{keep}: {err:?}");
        assert!(
            err.to_string().contains(&format!("truncated-{keep}.mmdb")),
            "{err}"
        );
    }

    // One bad file spoils the set; the error names that one.
    let bad = dir
        .path()
        .join(format!("truncated-{}.mmdb", good.len() / 2));
    let err = GeoDb::open(&[maxmind("GeoIP2-City-Test.mmdb"), bad.clone()]).unwrap_err();
    assert_eq!(err.path(), bad);
}

// ---------------------------------------------------------------------------------------------
// schema variants, written with a real mmdb writer

fn write_db(dir: &Path, name: &str, writer: &Writer) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, writer.to_bytes().unwrap()).unwrap();
    path
}

#[test]
fn schema_variants() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Writer::new("variants");
    let map = |entries: Vec<(&str, Value)>| Value::map(entries);
    // Nested, only a registered country.
    w.insert_value(
        net("198.51.100.0/25"),
        map(vec![(
            "registered_country",
            map(vec![("iso_code", "FR".into())]),
        )]),
    )
    .unwrap();
    // IPinfo-like flat: `country`/`continent` are names, the codes are separate.
    w.insert_value(
        net("198.51.100.128/25"),
        map(vec![
            ("country", "Japan".into()),
            ("country_code", "JP".into()),
            ("continent", "Asia".into()),
            ("continent_code", "AS".into()),
        ]),
    )
    .unwrap();
    // Flat, double coordinates, integer longitude, lowercase country.
    w.insert_value(
        net("203.0.113.0/25"),
        map(vec![
            ("country_code", "nz".into()),
            ("latitude", Value::Double(-41.2866)),
            ("longitude", Value::U32(174)),
            ("city", "Wellington".into()),
        ]),
    )
    .unwrap();
    // Coordinates out of range and a junk continent: ignored, country centre used.
    w.insert_value(
        net("203.0.113.128/25"),
        map(vec![
            ("country_code", "FI".into()),
            ("latitude", "123.5".into()),
            ("longitude", "24.9".into()),
            ("continent", Value::array([Value::from("EU")])),
        ]),
    )
    .unwrap();
    // Odd types where strings were expected: no panic, no location.
    w.insert_value(
        net("192.0.2.0/24"),
        map(vec![
            ("country", Value::U32(7)),
            ("city", Value::Bool(true)),
            ("location", "here".into()),
        ]),
    )
    .unwrap();
    let db = open(write_db(dir.path(), "variants.mmdb", &w));

    let fr = find(&db, "198.51.100.1");
    assert_eq!(
        (fr.country, fr.continent),
        (cc("FR"), Some(Continent::Europe))
    );
    assert_country_centre(&fr);

    let jp = find(&db, "198.51.100.200");
    assert_eq!(
        (jp.country, jp.continent),
        (cc("JP"), Some(Continent::Asia))
    );

    let nz = find(&db, "203.0.113.5");
    assert_eq!(nz.country, cc("NZ"));
    assert_eq!(nz.continent, Some(Continent::Oceania));
    assert_eq!(nz.city.as_deref(), Some("Wellington"));
    assert_coords(&nz, -41.2866, 174.0, CoordsSource::Database);

    let fi = find(&db, "203.0.113.200");
    assert_eq!(
        (fi.country, fi.continent),
        (cc("FI"), Some(Continent::Europe))
    );
    assert_country_centre(&fi);

    assert_eq!(db.lookup(ip("192.0.2.1")), None);
}

#[test]
fn ipv4_stored_only_under_ipv4_mapped_range() {
    // Some writers put IPv4 at ::ffff:0:0/96 instead of ::/96.
    let dir = tempfile::tempdir().unwrap();
    let mut w = Writer::builder("mapped-only")
        .ipv4_aliasing(Ipv4Aliasing::Disabled)
        .build();
    w.insert_value(
        net("::ffff:10.1.0.0/112"),
        Value::map([("country_code", Value::from("CH"))]),
    )
    .unwrap();
    let db = open(write_db(dir.path(), "mapped.mmdb", &w));
    for addr in ["10.1.2.3", "::ffff:10.1.2.3"] {
        let loc = find(&db, addr);
        assert_eq!(loc.country, cc("CH"), "{addr}");
        assert_eq!(loc.network, net("10.1.0.0/16"), "{addr}");
    }
    assert_eq!(db.lookup(ip("10.2.0.1")), None);
}

// ---------------------------------------------------------------------------------------------
// building from CSV

/// Every network of geoip/sample.csv: (address inside, network, country, continent, coords,
/// city). `None` coords = country centre expected.
#[allow(clippy::type_complexity)]
const SAMPLE: &[(
    &str,
    &str,
    Option<&str>,
    &str,
    Option<(f64, f64)>,
    Option<&str>,
)] = &[
    (
        "81.2.69.142",
        "81.2.69.0/24",
        Some("GB"),
        "EU",
        Some((51.5142, -0.0931)),
        Some("London"),
    ),
    (
        "89.160.20.120",
        "89.160.20.112/28",
        Some("SE"),
        "EU",
        Some((58.4167, 15.6167)),
        Some("Linköping"),
    ),
    (
        "2a02:d3c0::1",
        "2a02:d3c0::/29",
        Some("GB"),
        "EU",
        Some((54.75844, -2.69531)),
        None,
    ),
    (
        "216.160.83.60",
        "216.160.83.56/29",
        Some("US"),
        "NA",
        Some((47.2513, -122.3149)),
        Some("Milton"),
    ),
    (
        "2001:480:10::1",
        "2001:480:10::/48",
        Some("US"),
        "NA",
        Some((32.7203, -117.1552)),
        Some("San Diego"),
    ),
    (
        "149.101.100.1",
        "149.101.100.0/28",
        Some("US"),
        "NA",
        Some((37.751, -97.822)),
        None,
    ),
    (
        "175.16.199.1",
        "175.16.199.0/24",
        Some("CN"),
        "AS",
        Some((43.88, 125.3228)),
        Some("Changchun"),
    ),
    (
        "202.196.239.255",
        "202.196.224.0/20",
        Some("PH"),
        "AS",
        Some((13.0, 122.0)),
        None,
    ),
    (
        "214.0.0.1",
        "214.0.0.0/24",
        Some("SG"),
        "AS",
        Some((1.336, 103.7716)),
        Some("Singapore"),
    ),
    (
        "2001:218::1",
        "2001:218::/32",
        Some("JP"),
        "AS",
        Some((35.68536, 139.75309)),
        None,
    ),
    (
        "214.0.1.1",
        "214.0.1.0/24",
        Some("AU"),
        "OC",
        Some((-37.8159, 144.9669)),
        Some("Melbourne"),
    ),
    (
        "2a02:e700::1",
        "2a02:e700::/29",
        Some("LY"),
        "AF",
        Some((28.0, 17.0)),
        None,
    ),
    (
        "200.160.0.1",
        "200.160.0.0/20",
        Some("BR"),
        "SA",
        Some((-23.5505, -46.6333)),
        Some("São Paulo"),
    ),
    ("2801:80::1", "2801:80::/48", Some("BR"), "SA", None, None),
    (
        "196.25.1.1",
        "196.25.0.0/16",
        Some("ZA"),
        "AF",
        Some((-26.2041, 28.0473)),
        Some("Johannesburg"),
    ),
    ("31.6.14.1", "31.6.14.0/24", Some("AQ"), "AN", None, None),
];

#[test]
fn build_sample_csv_and_read_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sample.mmdb");
    let report = build_from_csv(&sample_csv(), &out).unwrap();
    assert_eq!(report.output, out);
    assert_eq!(report.rows, SAMPLE.len() + 1); // + the continent-only row
    assert_eq!(report.ipv4_networks + report.ipv6_networks, report.rows);
    assert_eq!(report.bytes, std::fs::metadata(&out).unwrap().len());
    // No temporary file left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    let db = open(&out);
    let info = db.databases().next().unwrap();
    assert_eq!(info.database_type, "ayadns-GeoIP2-City");
    assert!(info.has_location_data);

    let mut continents = std::collections::BTreeSet::new();
    for &(addr, network, country, continent, coords, city) in SAMPLE {
        let loc = find(&db, addr);
        assert_eq!(loc.network, net(network), "{addr}: {loc}");
        assert_eq!(loc.country, country.and_then(CountryCode::new), "{addr}");
        assert_eq!(loc.continent, Continent::from_code(continent), "{addr}");
        assert_eq!(loc.city.as_deref(), city, "{addr}");
        match coords {
            Some((lat, lon)) => assert_coords(&loc, lat, lon, CoordsSource::Database),
            None => assert_country_centre(&loc),
        }
        continents.insert(loc.continent.unwrap());
        // IPv4 clients on a dual-stack socket.
        if let IpAddr::V4(v4) = ip(addr) {
            assert_eq!(find(&db, &v4.to_ipv6_mapped().to_string()), loc);
        }
    }
    assert_eq!(continents.len(), 7, "{continents:?}");

    let eu_only = find(&db, "2.3.3.3");
    assert_eq!(
        (eu_only.country, eu_only.continent),
        (None, Some(Continent::Europe))
    );
    assert_eq!(eu_only.network, net("2.3.3.0/24"));

    for addr in ["127.0.0.1", "10.0.0.1", "81.2.70.1", "::1", "2001:db8::1"] {
        assert_eq!(db.lookup(ip(addr)), None, "{addr}");
    }
    // Just outside a network's edge.
    assert_eq!(db.lookup(ip("216.160.83.64")), None);
    assert_eq!(db.lookup(ip("89.160.20.111")), None);
}

#[test]
fn built_database_reads_with_maxminds_own_schema() {
    // Other tools (mmdblookup, MaxMind's libraries) read our output with the GeoIP2-City schema.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sample.mmdb");
    build_from_csv(&sample_csv(), &out).unwrap();
    let reader = maxminddb::Reader::open_readfile(&out).unwrap();
    let result = reader.lookup(ip("81.2.69.142")).unwrap();
    let city: maxminddb::geoip2::City = result.decode().unwrap().unwrap();
    assert_eq!(city.country.iso_code, Some("GB"));
    assert_eq!(city.country.names.english, Some("United Kingdom"));
    assert_eq!(city.continent.code, Some("EU"));
    assert_eq!(city.city.names.english, Some("London"));
    assert_eq!(city.location.latitude, Some(51.5142));
    assert_eq!(city.location.longitude, Some(-0.0931));
}

fn write_csv(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn build_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mmdb");
    let cases = [
        // (csv, expected line, expected words)
        (
            "# comment\nnetwork,country\n81.2.69.0/24,GB\n\n81.2.70.0/24,GBR\n",
            5,
            "two-letter",
        ),
        (
            "network,country\n81.2.69.0/24,GB\n81.2.69.7/24,GB\n",
            3,
            "host bits",
        ),
        (
            "network,country\n81.2.69.0/24,GB\nnot-a-net,GB\n",
            3,
            "not a CIDR",
        ),
        (
            "network,country\n81.2.69.0/24,GB\n10.0.0.0/8,US\n81.2.69.0/24,FR\n",
            4,
            "already on line 2",
        ),
        ("network,country\n81.2.69.0/24,GB,extra\n", 2, "fields"),
        ("network,country,colour\n81.2.69.0/24,GB,red\n", 1, "colour"),
        (
            "network,country,latitude,longitude\n81.2.69.0/24,GB,51,\n",
            2,
            "both",
        ),
        ("network,country\n::ffff:1.2.3.0/120,GB\n", 2, "aliased"),
        ("start,end,country\n10.0.0.9,10.0.0.1,GB\n", 2, "after"),
        ("network,country\n", 1, "no data rows"),
    ];
    for (i, (text, line, words)) in cases.iter().enumerate() {
        let name = format!("bad{i}.csv");
        let csv = write_csv(dir.path(), &name, text);
        let err = build_from_csv(&csv, &out).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("{name}:{line}: ")) && msg.contains(words),
            "case {i}: want {name}:{line} and {words:?}, got {msg}"
        );
        assert!(!out.exists(), "case {i}: output written despite the error");
    }
    let err = build_from_csv(&dir.path().join("nope.csv"), &out).unwrap_err();
    assert!(matches!(err, GeoError::Io { .. }) && err.to_string().contains("nope.csv"));
}

#[test]
fn build_ranges_and_overlaps() {
    let dir = tempfile::tempdir().unwrap();
    // A range, and a more specific network listed *before* the broader one covering it.
    let csv = write_csv(
        dir.path(),
        "ranges.csv",
        "start,end,country,city\n\
         10.0.0.0,10.0.2.255,NL,Amsterdam\n\
         10.0.1.128,10.0.1.255,BE,Brussels\n\
         2001:db8::,2001:db8::ffff,DE,\n",
    );
    let out = dir.path().join("ranges.mmdb");
    let report = build_from_csv(&csv, &out).unwrap();
    assert_eq!(report.rows, 3);
    assert_eq!((report.ipv4_networks, report.ipv6_networks), (3, 1));
    let db = open(&out);
    // 10.0.0.0/23 from the range, minus the hole the more specific row punches in it.
    assert_eq!(find(&db, "10.0.0.1").network, net("10.0.0.0/24"));
    assert_eq!(find(&db, "10.0.1.1").network, net("10.0.1.0/25"));
    assert_eq!(find(&db, "10.0.1.1").country, cc("NL"));
    let be = find(&db, "10.0.1.200");
    assert_eq!(
        (be.country, be.city.as_deref()),
        (cc("BE"), Some("Brussels"))
    );
    assert_eq!(be.network, net("10.0.1.128/25"));
    assert_eq!(find(&db, "10.0.2.9").network, net("10.0.2.0/24"));
    assert_eq!(db.lookup(ip("10.0.3.0")), None);
    assert_eq!(find(&db, "2001:db8::42").network, net("2001:db8::/112"));

    // Order independence for CIDRs too: the /24 listed after its /28 does not swallow it.
    let csv = write_csv(
        dir.path(),
        "overlap.csv",
        "network,country\n81.2.69.16/28,IE\n81.2.69.0/24,GB\n",
    );
    build_from_csv(&csv, &out).unwrap(); // replaces the previous output
    let db = open(&out);
    assert_eq!(find(&db, "81.2.69.20").country, cc("IE"));
    assert_eq!(find(&db, "81.2.69.40").country, cc("GB"));
    assert_eq!(db.lookup(ip("10.0.0.1")), None);
}

// ---------------------------------------------------------------------------------------------
// reloading

/// Replaces `dst` the safe way: write a new file beside it, then rename over it.
fn replace(dst: &Path, bytes: &[u8]) {
    let tmp = dst.with_extension("new");
    let mut f = std::fs::File::create(&tmp).unwrap();
    f.write_all(bytes).unwrap();
    f.sync_all().unwrap();
    std::fs::rename(&tmp, dst).unwrap();
}

#[tokio::test]
async fn watcher_poll_steps() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("geo.mmdb");
    let city = std::fs::read(maxmind("GeoIP2-City-Test.mmdb")).unwrap();
    let country = std::fs::read(maxmind("GeoIP2-Country-Test.mmdb")).unwrap();
    std::fs::write(&path, &city).unwrap();

    let db = open(&path);
    let mut watcher = Watcher::new(&db, Duration::from_millis(50));
    assert_eq!(watcher.paths(), std::slice::from_ref(&path));
    assert!(matches!(watcher.poll().await, PollOutcome::Unchanged));

    replace(&path, &country);
    assert!(matches!(watcher.poll().await, PollOutcome::Settling));
    let PollOutcome::Reloaded(new) = watcher.poll().await else {
        panic!("expected a reload")
    };
    assert_eq!(
        find(&new, "81.2.69.142").coords_source,
        Some(CoordsSource::CountryCentre)
    );
    assert!(matches!(watcher.poll().await, PollOutcome::Unchanged));

    // Truncated: one failure naming the file, then no retry until the file changes again.
    replace(&path, &city[..city.len() / 2]);
    assert!(matches!(watcher.poll().await, PollOutcome::Settling));
    match watcher.poll().await {
        PollOutcome::Failed(err) => assert_eq!(err.path(), path),
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(matches!(watcher.poll().await, PollOutcome::StillBroken));
    assert!(matches!(watcher.poll().await, PollOutcome::StillBroken));

    // Deleted: also a failure, once.
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(watcher.poll().await, PollOutcome::Settling));
    assert!(matches!(
        watcher.poll().await,
        PollOutcome::Failed(GeoError::Read { .. })
    ));
    assert!(matches!(watcher.poll().await, PollOutcome::StillBroken));

    // Fixed: reloads.
    replace(&path, &city);
    assert!(matches!(watcher.poll().await, PollOutcome::Settling));
    let PollOutcome::Reloaded(new) = watcher.poll().await else {
        panic!("expected a reload")
    };
    assert_eq!(find(&new, "81.2.69.142").city.as_deref(), Some("London"));

    // Rewritten in place (same inode) with different content: noticed too.
    std::fs::write(&path, &country).unwrap();
    assert!(matches!(watcher.poll().await, PollOutcome::Settling));
    assert!(matches!(watcher.poll().await, PollOutcome::Reloaded(_)));
}

/// Formatted log output of this test binary, from a global subscriber installed once (a
/// thread-local one would miss events: tracing caches per-callsite interest across threads).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn global() -> &'static Logs {
        static LOGS: OnceLock<Logs> = OnceLock::new();
        LOGS.get_or_init(|| {
            let logs = Logs::default();
            let sink = logs.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(move || sink.clone())
                .with_ansi(false)
                .with_max_level(tracing::Level::INFO)
                .finish();
            tracing::subscriber::set_global_default(subscriber).expect("no other subscriber");
            logs
        })
    }

    /// Log lines mentioning `needle` and `about` (tests share the log; each has its own files).
    fn lines(&self, about: &Path, needle: &str) -> Vec<String> {
        let about = about.display().to_string();
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|l| l.contains(&about) && l.contains(needle))
            .map(str::to_owned)
            .collect()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Waits up to 10 s for `cond`.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn watcher_reloads_replaced_files_and_keeps_old_data_on_bad_ones() {
    let logs = Logs::global();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("geo.mmdb");
    let city = std::fs::read(maxmind("GeoIP2-City-Test.mmdb")).unwrap();
    let country = std::fs::read(maxmind("GeoIP2-Country-Test.mmdb")).unwrap();
    std::fs::write(&path, &city).unwrap();

    let shared_db = Arc::new(ArcSwap::from_pointee(open(&path)));
    let cancel = CancellationToken::new();
    // The server's path: a watcher of the loaded set, publishing what it reloads.
    let target = shared_db.clone();
    let task = tokio::spawn(
        Watcher::new(&shared_db.load_full(), Duration::from_millis(200))
            .run(cancel.clone(), move |db| target.store(db)),
    );
    let source = || {
        shared_db
            .load()
            .lookup(ip("81.2.69.142"))
            .and_then(|l| l.coords_source)
    };
    assert_eq!(source(), Some(CoordsSource::Database));

    // A different database replaces the file: lookups change.
    replace(&path, &country);
    eventually("the country database", || {
        source() == Some(CoordsSource::CountryCentre)
    })
    .await;
    assert_eq!(logs.lines(&path, "GeoIP databases reloaded").len(), 1);

    // A truncated copy replaces it: a warning naming the file, and the old data stays.
    replace(&path, &city[..city.len() - 100]);
    eventually("the warning", || {
        !logs.lines(&path, "GeoIP reload failed").is_empty()
    })
    .await;
    let warning = &logs.lines(&path, "GeoIP reload failed")[0];
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("truncated or corrupt"), "{warning}");
    assert_eq!(source(), Some(CoordsSource::CountryCentre));
    assert_eq!(find(&shared_db.load(), "81.2.69.142").country, cc("GB"));
    // Not retried every poll.
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(logs.lines(&path, "GeoIP reload failed").len(), 1);

    // A good file again: picked up.
    replace(&path, &city);
    eventually("the city database", || {
        source() == Some(CoordsSource::Database)
    })
    .await;

    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the watcher stops when cancelled")
        .unwrap();
}
