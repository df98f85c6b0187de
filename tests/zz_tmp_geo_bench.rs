#[test]
fn bench() {
    let db = ayadns::geo::GeoDb::open(&["../shared/geoip/real/dbip-country.mmdb"]).unwrap();
    let city = ayadns::geo::GeoDb::open(&["../shared/geoip/maxmind-test/GeoIP2-City-Test.mmdb"]).unwrap();
    let mut x: u32 = 12345;
    let t = std::time::Instant::now();
    let mut hits = 0;
    for _ in 0..1_000_000 {
        x = x.wrapping_mul(1664525).wrapping_add(1013904223);
        if db.lookup(std::net::IpAddr::V4(x.into())).is_some() { hits += 1; }
    }
    println!("dbip: {:?}/lookup, hits {hits}", t.elapsed() / 1_000_000);
    let t = std::time::Instant::now();
    for _ in 0..1_000_000 { std::hint::black_box(city.lookup("81.2.69.142".parse().unwrap())); }
    println!("city hit: {:?}/lookup", t.elapsed() / 1_000_000);
}
