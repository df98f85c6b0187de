//! GeoIP (being written).
