//! Great-circle distance between two points on Earth.
//!
//! "Nearest data centre" compares the client's coordinates with each data centre's. The
//! haversine formula on a sphere of the Earth's mean radius is accurate to about 0.5% against
//! the ellipsoid — far finer than GeoIP coordinates themselves, which are often a city or
//! country centre — and it is cheap and numerically stable for short distances.

use super::location::Coords;

/// The Earth's mean radius in kilometres (IUGG mean radius R1 = 6371.0088 km).
pub const EARTH_MEAN_RADIUS_KM: f64 = 6371.0088;

/// Great-circle distance in kilometres between two `(latitude, longitude)` points in degrees.
///
/// Symmetric, zero for equal points, at most half the Earth's circumference (~20 015 km).
pub fn haversine_km(a: Coords, b: Coords) -> f64 {
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let dlat = lat2 - lat1;
    let dlon = lon2 - lon1;
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    // Clamp: rounding can push h a hair above 1 for antipodal points, making asin NaN.
    2.0 * EARTH_MEAN_RADIUS_KM * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    // City-centre coordinates (well-known values, e.g. Wikipedia's infobox coordinates).
    const LONDON: Coords = (51.5074, -0.1278);
    const DUBLIN: Coords = (53.3498, -6.2603);
    const NEW_YORK: Coords = (40.7128, -74.0060);
    const SYDNEY: Coords = (-33.8688, 151.2093);
    const PARIS: Coords = (48.8566, 2.3522);

    fn assert_close(got: f64, want: f64, tolerance_km: f64) {
        assert!(
            (got - want).abs() <= tolerance_km,
            "got {got:.1} km, want {want} ± {tolerance_km} km"
        );
    }

    #[test]
    fn known_city_pairs() {
        // Published great-circle distances between these city centres (e.g. from any
        // great-circle calculator): London–Dublin ≈ 464 km, London–Paris ≈ 344 km,
        // New York–London ≈ 5570 km, London–Sydney ≈ 16 990 km.
        assert_close(haversine_km(LONDON, DUBLIN), 464.0, 5.0);
        assert_close(haversine_km(LONDON, PARIS), 344.0, 5.0);
        assert_close(haversine_km(NEW_YORK, LONDON), 5570.0, 20.0);
        assert_close(haversine_km(LONDON, SYDNEY), 16_990.0, 60.0);
    }

    #[test]
    fn symmetric_and_zero() {
        assert_eq!(haversine_km(LONDON, LONDON), 0.0);
        assert_eq!(haversine_km(LONDON, DUBLIN), haversine_km(DUBLIN, LONDON));
    }

    #[test]
    fn extremes_are_finite() {
        // Antipodes: half the circumference, never NaN.
        let d = haversine_km((0.0, 0.0), (0.0, 180.0));
        assert_close(d, std::f64::consts::PI * EARTH_MEAN_RADIUS_KM, 0.001);
        let d = haversine_km((90.0, 0.0), (-90.0, 0.0));
        assert!(d.is_finite());
        // Crossing the antimeridian is short, not the long way round.
        assert_close(haversine_km((0.0, 179.5), (0.0, -179.5)), 111.2, 0.5);
    }
}
