//! Reading one database record, whatever its schema, into location facts.
//!
//! Two schemas exist in the wild and users will install either:
//!
//! - **Nested** (MaxMind GeoIP2/GeoLite2 City and Country): `country.iso_code`,
//!   `registered_country.iso_code`, `continent.code`, `location.latitude`/`longitude` (double),
//!   `city.names.en`.
//! - **Flat** (the free DB-IP / ip-location-db / IPinfo style files): `country_code`,
//!   `continent_code` (sometimes), `latitude`/`longitude` stored as double, float *or string*,
//!   `city` as a plain string. IPinfo even uses `country` and `continent` for the *names*.
//!
//! Rather than one struct per schema, every field we care about is decoded by a forgiving
//! visitor that accepts each plausible encoding and turns anything else into "absent". A record
//! with an odd field therefore still yields what it can, and a database of an unrelated kind
//! (ASN, ISP) simply yields nothing. Strings are borrowed from the database buffer, so decoding a
//! record allocates only for the city name that ends up in the [`Location`](super::Location).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::centroids;
use super::location::{Continent, Coords, CoordsSource, CountryCode};

/// The location fields of one record, in both schemas. Unknown fields are skipped.
#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub(crate) struct Record<'a> {
    #[serde(borrow)]
    country: Code<'a>,
    #[serde(borrow)]
    registered_country: Code<'a>,
    #[serde(borrow)]
    country_code: Code<'a>,
    #[serde(borrow)]
    continent: Code<'a>,
    #[serde(borrow)]
    continent_code: Code<'a>,
    location: Point,
    latitude: Degrees,
    longitude: Degrees,
    #[serde(borrow)]
    city: Name<'a>,
}

/// What a record says about a location, with the gaps filled from the country table.
#[derive(Debug, PartialEq)]
pub(crate) struct Facts {
    pub country: Option<CountryCode>,
    pub continent: Option<Continent>,
    pub coords: Option<Coords>,
    pub coords_source: Option<CoordsSource>,
    pub city: Option<String>,
}

impl Record<'_> {
    /// Resolves the record into location facts; `None` when it has no country, continent or
    /// coordinates at all (ASN/ISP records, anycast placeholders).
    pub(crate) fn facts(&self) -> Option<Facts> {
        let country = [&self.country, &self.country_code, &self.registered_country]
            .into_iter()
            .find_map(|c| c.0.as_deref().and_then(CountryCode::new));
        let continent = [&self.continent, &self.continent_code]
            .into_iter()
            .find_map(|c| c.0.as_deref().and_then(Continent::from_code))
            .or_else(|| country.and_then(centroids::continent_of));
        let (coords, coords_source) =
            match valid_coords(self.location.latitude, self.location.longitude)
                .or_else(|| valid_coords(self.latitude, self.longitude))
            {
                Some(c) => (Some(c), Some(CoordsSource::Database)),
                None => match country.and_then(centroids::centre_of) {
                    Some(c) => (Some(c), Some(CoordsSource::CountryCentre)),
                    None => (None, None),
                },
            };
        if country.is_none() && continent.is_none() && coords.is_none() {
            return None;
        }
        let city = self
            .city
            .0
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        Some(Facts {
            country,
            continent,
            coords,
            coords_source,
            city,
        })
    }
}

/// Both coordinates present, finite and in range.
fn valid_coords(lat: Degrees, lon: Degrees) -> Option<Coords> {
    let (lat, lon) = (lat.0?, lon.0?);
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some((lat, lon))
}

/// Visitor methods that turn every value kind we did not ask for into `Default` (absent),
/// consuming maps and sequences so the decoder stays in step.
macro_rules! absent_otherwise {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method<E: de::Error>(self, _: $ty) -> Result<Self::Value, E> {
            Ok(Default::default())
        })*
    };
}

macro_rules! absent_scalars {
    () => {
        absent_otherwise!(
            visit_bool(bool),
            visit_i64(i64),
            visit_u64(u64),
            visit_i128(i128),
            visit_u128(u128),
            visit_f64(f64),
            visit_bytes(&[u8]),
        );
    };
}

fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

/// A code: a plain string (`"GB"`), or a map holding it as `iso_code` (country) or `code`
/// (continent).
#[derive(Default, Debug)]
struct Code<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Code<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Code<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a code string or a map with iso_code/code")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Code<'a>, E> {
                Ok(Code(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Code<'a>, E> {
                Ok(Code(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Code<'a>, A::Error> {
                let mut code = Code(None);
                while let Some(key) = map.next_key::<Key<'_>>()? {
                    if matches!(&*key.0, "iso_code" | "code") && code.0.is_none() {
                        code = map.next_value()?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(code)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Code<'a>, A::Error> {
                skip_seq(seq).map(|()| Code(None))
            }
            absent_scalars!();
        }
        deserializer.deserialize_any(V(PhantomData))
    }
}

/// A place name: a plain string (flat schema) or `{"names": {"en": ...}}` (nested schema).
#[derive(Default, Debug)]
struct Name<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Name<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// `names` → the English name; `en` → the name itself.
        struct V<'a> {
            key: &'static str,
            _borrow: PhantomData<&'a ()>,
        }
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Name<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a name string or a map with names.en")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Name<'a>, E> {
                Ok(Name(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Name<'a>, E> {
                Ok(Name(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Name<'a>, A::Error> {
                let mut name = Name(None);
                while let Some(key) = map.next_key::<Key<'_>>()? {
                    if *key.0 == *self.key && name.0.is_none() {
                        name = map.next_value_seed(NameSeed {
                            key: "en",
                            _borrow: PhantomData,
                        })?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(name)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Name<'a>, A::Error> {
                skip_seq(seq).map(|()| Name(None))
            }
            absent_scalars!();
        }
        struct NameSeed<'a> {
            key: &'static str,
            _borrow: PhantomData<&'a ()>,
        }
        impl<'de: 'a, 'a> de::DeserializeSeed<'de> for NameSeed<'a> {
            type Value = Name<'a>;
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Name<'a>, D::Error> {
                d.deserialize_any(V {
                    key: self.key,
                    _borrow: PhantomData,
                })
            }
        }
        deserializer.deserialize_any(V {
            key: "names",
            _borrow: PhantomData,
        })
    }
}

/// An angle in degrees stored as double, float, integer or decimal string.
#[derive(Default, Debug, Clone, Copy)]
struct Degrees(Option<f64>);

impl<'de> Deserialize<'de> for Degrees {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Degrees;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or a decimal string")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Degrees, E> {
                Ok(Degrees(v.is_finite().then_some(v)))
            }
            fn visit_f32<E: de::Error>(self, v: f32) -> Result<Degrees, E> {
                // A 32-bit float is within ~2 m of the decimal it was written from; plenty.
                self.visit_f64(f64::from(v))
            }
            #[allow(clippy::cast_precision_loss)]
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Degrees, E> {
                Ok(Degrees(Some(v as f64)))
            }
            #[allow(clippy::cast_precision_loss)]
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Degrees, E> {
                Ok(Degrees(Some(v as f64)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Degrees, E> {
                Ok(Degrees(
                    v.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
                ))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Degrees, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Degrees(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Degrees, A::Error> {
                skip_seq(seq).map(|()| Degrees(None))
            }
            absent_otherwise!(visit_bool(bool), visit_bytes(&[u8]));
        }
        deserializer.deserialize_any(V)
    }
}

/// The nested schema's `location` map: `latitude`/`longitude` (other keys ignored).
#[derive(Default, Debug, Clone, Copy)]
struct Point {
    latitude: Degrees,
    longitude: Degrees,
}

impl<'de> Deserialize<'de> for Point {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Point;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map with latitude/longitude")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Point, A::Error> {
                let mut point = Point::default();
                while let Some(key) = map.next_key::<Key<'_>>()? {
                    match &*key.0 {
                        "latitude" => point.latitude = map.next_value()?,
                        "longitude" => point.longitude = map.next_value()?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(point)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Point, A::Error> {
                skip_seq(seq).map(|()| Point::default())
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Point, E> {
                Ok(Point::default())
            }
            absent_scalars!();
        }
        deserializer.deserialize_any(V)
    }
}

/// A map key, borrowed from the database buffer when the decoder allows (it always does for
/// maxminddb), so skipping through a record does not allocate.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Key<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map key string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'a>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'a>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(V(PhantomData))
    }
}
