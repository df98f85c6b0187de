//! Country facts that do not change: name, continent and rough centre, per ISO country code.
//!
//! Country-only databases (GeoLite2-Country, DB-IP country) give a country but no coordinates,
//! and the flat schema gives no continent at all. A "nearest data centre" decision still needs
//! a point and a `continent` rule still needs a continent, so [`crate::geo::GeoDb`] fills the gaps
//! from this table. The table (`geoip/country-centroids.csv`, licence note beside it) is embedded
//! in the binary with `include_str!` — a server must not fail to start because a data file moved —
//! and parsed once, on first use.
//!
//! A country's centre is a coarse stand-in: fine for telling Europe from Asia, crude inside the
//! United States or Russia. [`crate::geo::CoordsSource::CountryCentre`] marks such coordinates.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::location::{Continent, Coords, CountryCode};

/// The embedded CSV: `iso_code,name,continent,latitude,longitude`.
const TABLE: &str = include_str!("../../geoip/country-centroids.csv");

/// One row of the country table.
#[derive(Clone, Debug, PartialEq)]
pub struct Country {
    /// ISO 3166-1 alpha-2 code.
    pub code: CountryCode,
    /// English short name (`United Kingdom`).
    pub name: &'static str,
    /// Continent, when the table has one (a few historic/disputed codes have none).
    pub continent: Option<Continent>,
    /// Rough centre `(latitude, longitude)`; `None` for a few small territories.
    pub centre: Option<Coords>,
}

static COUNTRIES: LazyLock<HashMap<CountryCode, Country>> = LazyLock::new(|| {
    // The table is compiled in, so a malformed row is a bug caught by the unit tests below.
    parse(TABLE).unwrap_or_else(|e| panic!("embedded geoip/country-centroids.csv: {e}"))
});

/// Looks a country up by code. `None` for codes the table does not know.
pub fn country(code: CountryCode) -> Option<&'static Country> {
    COUNTRIES.get(&code)
}

/// The continent of a country, if known.
pub fn continent_of(code: CountryCode) -> Option<Continent> {
    country(code).and_then(|c| c.continent)
}

/// The rough centre of a country, if known.
pub fn centre_of(code: CountryCode) -> Option<Coords> {
    country(code).and_then(|c| c.centre)
}

/// Every country in the table, in no particular order.
pub fn all() -> impl Iterator<Item = &'static Country> {
    COUNTRIES.values()
}

fn parse(table: &'static str) -> Result<HashMap<CountryCode, Country>, String> {
    let mut countries = HashMap::new();
    let mut lines = table.lines().enumerate();
    match lines.next() {
        Some((_, "iso_code,name,continent,latitude,longitude")) => {}
        other => return Err(format!("unexpected header {other:?}")),
    }
    for (index, line) in lines {
        let lineno = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        // No field in the table contains a comma or quotes; keep the parser that simple.
        let fields: Vec<&'static str> = line.split(',').collect();
        let &[code, name, continent, lat, lon] = fields.as_slice() else {
            return Err(format!("line {lineno}: expected 5 fields: {line:?}"));
        };
        let code = CountryCode::new(code)
            .ok_or_else(|| format!("line {lineno}: bad country code {code:?}"))?;
        let continent = match continent {
            "" => None,
            c => Some(
                Continent::from_code(c)
                    .ok_or_else(|| format!("line {lineno}: bad continent {c:?}"))?,
            ),
        };
        let centre = match (lat, lon) {
            ("", "") => None,
            (lat, lon) => {
                let lat: f64 = lat
                    .parse()
                    .map_err(|_| format!("line {lineno}: bad latitude {lat:?}"))?;
                let lon: f64 = lon
                    .parse()
                    .map_err(|_| format!("line {lineno}: bad longitude {lon:?}"))?;
                if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                    return Err(format!("line {lineno}: coordinates out of range"));
                }
                Some((lat, lon))
            }
        };
        let row = Country {
            code,
            name,
            continent,
            centre,
        };
        if countries.insert(code, row).is_some() {
            return Err(format!("line {lineno}: duplicate country {code}"));
        }
    }
    Ok(countries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cc(s: &str) -> CountryCode {
        CountryCode::new(s).unwrap()
    }

    #[test]
    fn table_parses_completely() {
        // 255 lines = header + 254 countries; 10 of them have no centre (AC AX BL BQ CW MF SS
        // SX TA UM) and 2 no continent (AN, GZ).
        assert_eq!(all().count(), 254);
        assert_eq!(all().filter(|c| c.centre.is_none()).count(), 10);
        assert_eq!(all().filter(|c| c.continent.is_none()).count(), 2);
        for continent in Continent::ALL {
            assert!(
                all().any(|c| c.continent == Some(continent)),
                "no country in {continent}"
            );
        }
    }

    #[test]
    fn known_countries() {
        let gb = country(cc("GB")).unwrap();
        assert_eq!(gb.name, "United Kingdom");
        assert_eq!(gb.continent, Some(Continent::Europe));
        let (lat, lon) = gb.centre.unwrap();
        // Great Britain's centre is in northern England / southern Scotland.
        assert!((54.0..57.0).contains(&lat) && (-5.0..-1.0).contains(&lon));

        assert_eq!(continent_of(cc("us")), Some(Continent::NorthAmerica));
        assert_eq!(continent_of(cc("BR")), Some(Continent::SouthAmerica));
        assert_eq!(continent_of(cc("AU")), Some(Continent::Oceania));
        assert_eq!(continent_of(cc("ZA")), Some(Continent::Africa));
        assert_eq!(continent_of(cc("JP")), Some(Continent::Asia));
        assert_eq!(continent_of(cc("AQ")), Some(Continent::Antarctica));
        // Australia's centre is in the southern hemisphere, east of 110°E.
        let (lat, lon) = centre_of(cc("AU")).unwrap();
        assert!(lat < -20.0 && lon > 110.0, "{lat},{lon}");
        assert_eq!(centre_of(cc("SS")), None);
        assert_eq!(country(cc("ZZ")), None);
    }

    #[test]
    fn parse_rejects_bad_rows() {
        let bad = "iso_code,name,continent,latitude,longitude\nGB,United Kingdom,XX,1,2\n";
        assert!(parse(bad).unwrap_err().contains("line 2"));
        let bad = "iso_code,name,continent,latitude,longitude\nGB,United Kingdom,EU,95,2\n";
        assert!(parse(bad).unwrap_err().contains("out of range"));
        let bad = "iso_code,name,continent,latitude,longitude\nGB,UK,EU,1,2\nGB,UK,EU,1,2\n";
        assert!(parse(bad).unwrap_err().contains("duplicate"));
        assert!(parse("code,name\n").is_err());
    }
}
