#[test]
fn explore() {
    let t = std::time::Instant::now();
    let r = maxminddb::Reader::open_readfile("../shared/geoip/real/dbip-country.mmdb").unwrap();
    println!("open {:?} {:?}", t.elapsed(), r.metadata());
    let t = std::time::Instant::now();
    r.verify().unwrap();
    println!("verify {:?}", t.elapsed());
    let t = std::time::Instant::now();
    let db = ayadns::geo::GeoDb::open(&["../shared/geoip/real/dbip-country.mmdb"]).unwrap();
    println!("GeoDb::open {:?} {:?}", t.elapsed(), db);
    for ip in [
        "8.8.8.8",
        "1.1.1.1",
        "2001:4860:4860::8888",
        "::ffff:81.2.69.142",
        "127.0.0.1",
        "10.1.1.1",
    ] {
        println!(
            "{ip}: {:?}",
            db.lookup(ip.parse().unwrap()).map(|l| l.to_string())
        );
    }
    let r = db.lookup("8.8.8.8".parse().unwrap()).unwrap();
    println!("{r:?}");
}
