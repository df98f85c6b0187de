#[test]
fn bench() {
    let r = maxminddb::Reader::open_readfile("../shared/geoip/maxmind-test/GeoIP2-City-Test.mmdb")
        .unwrap();
    let ip: std::net::IpAddr = "81.2.69.142".parse().unwrap();
    let t = std::time::Instant::now();
    for _ in 0..1_000_000 {
        let res = r.lookup(ip).unwrap();
        std::hint::black_box(res.network().unwrap());
    }
    println!("lookup only: {:?}", t.elapsed() / 1_000_000);
    let t = std::time::Instant::now();
    for _ in 0..1_000_000 {
        let res = r.lookup(ip).unwrap();
        std::hint::black_box(res.decode::<maxminddb::geoip2::City>().unwrap());
    }
    println!("geoip2::City: {:?}", t.elapsed() / 1_000_000);
    let t = std::time::Instant::now();
    for _ in 0..1_000_000 {
        let res = r.lookup(ip).unwrap();
        std::hint::black_box(res.decode::<serde::de::IgnoredAny>().unwrap());
    }
    println!("IgnoredAny: {:?}", t.elapsed() / 1_000_000);
    let t = std::time::Instant::now();
    for _ in 0..1_000_000 {
        let res = r.lookup(ip).unwrap();
        let a: Option<&str> = res
            .decode_path(&maxminddb::path!["country", "iso_code"])
            .unwrap();
        let b: Option<f64> = res
            .decode_path(&maxminddb::path!["location", "latitude"])
            .unwrap();
        let c: Option<&str> = res
            .decode_path(&maxminddb::path!["city", "names", "en"])
            .unwrap();
        std::hint::black_box((a, b, c));
    }
    println!("3 paths: {:?}", t.elapsed() / 1_000_000);
}
