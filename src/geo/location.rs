//! What a GeoIP lookup tells us about a client: the [`Location`].
//!
//! The policy chain never sees a database record. It sees this one small, schema-free value:
//! a country, a continent, coordinates (and where they came from), a city name, the network
//! the database matched and which database file answered. Every GeoIP schema we read (MaxMind's
//! nested GeoIP2/GeoLite2 layout and the flat `country_code`/`latitude`/`longitude` layout of
//! the free databases) is reduced to it in [`crate::geo::reader`], so policy code has one shape
//! to match on and tests can build one by hand.
//!
//! [`CountryCode`] and [`Continent`] are tiny `Copy` types rather than strings: they are compared
//! on every query (`country == "GB"` in a geo map) and must not allocate or be misspelt.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use ipnet::IpNet;

/// A latitude/longitude pair in degrees (`(lat, lon)`), WGS84 as the databases store them.
pub type Coords = (f64, f64);

/// An ISO 3166-1 alpha-2 country code: exactly two ASCII uppercase letters (`GB`, `US`).
///
/// Parsing accepts lowercase (`"gb"`) and normalises it; anything that is not two ASCII letters
/// is rejected. Codes are not checked against the ISO list, so databases that use user-assigned
/// codes (`XK` for Kosovo, `EU`, `ZZ`) still round-trip.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Parses a two-letter code, case-insensitively. Returns `None` for anything else.
    pub fn new(code: &str) -> Option<Self> {
        match code.as_bytes() {
            &[a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Some(Self([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => None,
        }
    }

    /// The code as a `&str` (always two uppercase ASCII letters).
    pub fn as_str(&self) -> &str {
        // The constructor only admits ASCII letters, so this never fails.
        std::str::from_utf8(&self.0).expect("country codes are ASCII")
    }
}

impl FromStr for CountryCode {
    type Err = InvalidCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s).ok_or_else(|| InvalidCode {
            what: "country code (two letters, e.g. GB)",
            value: s.to_owned(),
        })
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CountryCode({})", self.as_str())
    }
}

/// A continent, as the two-letter codes GeoIP databases use (`EU`, `NA`, `SA`, `AS`, `AF`,
/// `OC`, `AN`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Continent {
    /// `AF`
    Africa,
    /// `AN`
    Antarctica,
    /// `AS`
    Asia,
    /// `EU`
    Europe,
    /// `NA` (includes Central America and the Caribbean)
    NorthAmerica,
    /// `OC`
    Oceania,
    /// `SA`
    SouthAmerica,
}

impl Continent {
    /// Every continent, in code order.
    pub const ALL: [Continent; 7] = [
        Continent::Africa,
        Continent::Antarctica,
        Continent::Asia,
        Continent::Europe,
        Continent::NorthAmerica,
        Continent::Oceania,
        Continent::SouthAmerica,
    ];

    /// Parses a two-letter continent code, case-insensitively (`"eu"` → `Europe`).
    pub fn from_code(code: &str) -> Option<Self> {
        let upper = code.as_bytes();
        if upper.len() != 2 {
            return None;
        }
        let code = [upper[0].to_ascii_uppercase(), upper[1].to_ascii_uppercase()];
        Some(match &code {
            b"AF" => Continent::Africa,
            b"AN" => Continent::Antarctica,
            b"AS" => Continent::Asia,
            b"EU" => Continent::Europe,
            b"NA" => Continent::NorthAmerica,
            b"OC" => Continent::Oceania,
            b"SA" => Continent::SouthAmerica,
            _ => return None,
        })
    }

    /// The two-letter code (`"EU"`).
    pub fn code(self) -> &'static str {
        match self {
            Continent::Africa => "AF",
            Continent::Antarctica => "AN",
            Continent::Asia => "AS",
            Continent::Europe => "EU",
            Continent::NorthAmerica => "NA",
            Continent::Oceania => "OC",
            Continent::SouthAmerica => "SA",
        }
    }
}

impl FromStr for Continent {
    type Err = InvalidCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_code(s).ok_or_else(|| InvalidCode {
            what: "continent code (one of AF, AN, AS, EU, NA, OC, SA)",
            value: s.to_owned(),
        })
    }
}

impl fmt::Display for Continent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A string that is not a valid [`CountryCode`] or [`Continent`] code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {what}")]
pub struct InvalidCode {
    what: &'static str,
    value: String,
}

/// Where [`Location::coords`] came from.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum CoordsSource {
    /// The database record carried coordinates (a City database, or a flat database with
    /// `latitude`/`longitude`).
    Database,
    /// The record only named a country; the coordinates are that country's rough centre from
    /// the embedded table in [`crate::geo::centroids`]. Good enough for "nearest data centre"
    /// across continents, coarse within large countries (US, RU, CN, BR, AU…).
    CountryCentre,
}

/// What a GeoIP database knows about one client address.
///
/// A `Location` always has at least a country or coordinates: records with neither (ASN/ISP
/// records, anycast placeholders) are treated as "no answer" by [`crate::geo::GeoDb::lookup`].
#[derive(Clone, PartialEq, Debug)]
pub struct Location {
    /// ISO country code, from `country.iso_code` (nested schema, falling back to
    /// `registered_country`) or `country_code` (flat schema).
    pub country: Option<CountryCode>,
    /// From `continent.code`, or filled from the country when the database has none.
    pub continent: Option<Continent>,
    /// `(latitude, longitude)` in degrees, if the database or the country table has them.
    pub coords: Option<Coords>,
    /// Where `coords` came from; `None` exactly when `coords` is `None`.
    pub coords_source: Option<CoordsSource>,
    /// City name (English), when the database has one.
    pub city: Option<String>,
    /// The network of the database record that matched, in the family of the address looked
    /// up: an IPv4 lookup yields an IPv4 network even when the database stores IPv4 under
    /// `::/96` or `::ffff:0:0/96`. This is what an ECS scope prefix can be derived from.
    pub network: IpNet,
    /// The database file that answered (its path as configured).
    pub database: Arc<str>,
}

impl fmt::Display for Location {
    /// One line for logs and `explain`: `GB/EU London 51.5142,-0.0931 (database) via
    /// 81.2.69.142/31 in GeoIP2-City-Test.mmdb`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.country {
            Some(c) => write!(f, "{c}")?,
            None => f.write_str("--")?,
        }
        match self.continent {
            Some(c) => write!(f, "/{c}")?,
            None => f.write_str("/--")?,
        }
        if let Some(city) = &self.city {
            write!(f, " {city}")?;
        }
        if let Some((lat, lon)) = self.coords {
            let source = match self.coords_source {
                Some(CoordsSource::CountryCentre) => "country centre",
                _ => "database",
            };
            write!(f, " {lat:.4},{lon:.4} ({source})")?;
        }
        write!(f, " via {} in {}", self.network, self.database)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_code_parses_and_normalises() {
        let gb = CountryCode::new("gb").unwrap();
        assert_eq!(gb.as_str(), "GB");
        assert_eq!(gb, "GB".parse().unwrap());
        assert_eq!(format!("{gb}"), "GB");
        for bad in ["", "G", "GBR", "G1", "é1", "  "] {
            assert!(CountryCode::new(bad).is_none(), "{bad:?} accepted");
        }
        let err = "GBR".parse::<CountryCode>().unwrap_err();
        assert!(err.to_string().contains("GBR"), "{err}");
    }

    #[test]
    fn continent_codes_round_trip() {
        for c in Continent::ALL {
            assert_eq!(Continent::from_code(c.code()), Some(c));
            assert_eq!(c.code().to_lowercase().parse::<Continent>(), Ok(c));
        }
        assert_eq!(Continent::from_code("XX"), None);
        assert_eq!(Continent::from_code("Europe"), None);
        assert!("E".parse::<Continent>().is_err());
    }
}
