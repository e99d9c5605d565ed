//! The spec's `Timestamp` (`type: string, format: date-time`), the type the generated server
//! types use in its place (`codegen`'s `with_replacement`): chrono's `DateTime<Utc>`, written as
//! chrono writes it (RFC 3339, `Z`, the fraction in 0, 3, 6 or 9 digits as needed), but formatted
//! into a buffer and handed to the serializer as one string. chrono's own `Serialize` goes
//! through `collect_str`, one formatter call per piece: about 4,600 instructions per timestamp,
//! two per product, forty per list page; this costs a few hundred.

use std::fmt;

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time, UTC.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// The RFC 3339 text chrono's `Serialize` writes, when the year has four digits (`None`
    /// otherwise: chrono's own formatting handles the sign and the width).
    fn rfc3339(&self, out: &mut [u8; 30]) -> Option<usize> {
        let t = &self.0;
        let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
        let two = |out: &mut [u8], at: usize, n: u32| {
            out[at] = b'0' + (n / 10) as u8;
            out[at + 1] = b'0' + (n % 10) as u8;
        };
        two(out, 0, year / 100);
        two(out, 2, year % 100);
        out[4] = b'-';
        two(out, 5, t.month());
        out[7] = b'-';
        two(out, 8, t.day());
        out[10] = b'T';
        two(out, 11, t.hour());
        out[13] = b':';
        two(out, 14, t.minute());
        out[16] = b':';
        // A leap second is carried in the nanoseconds (chrono writes it as second 60).
        let (mut second, mut nano) = (t.second(), t.nanosecond());
        if nano >= 1_000_000_000 {
            second += 1;
            nano -= 1_000_000_000;
        }
        two(out, 17, second);
        let (mut fraction, digits) = match nano {
            0 => (0, 0),
            n if n % 1_000_000 == 0 => (n / 1_000_000, 3),
            n if n % 1_000 == 0 => (n / 1_000, 6),
            n => (n, 9),
        };
        let mut len = 19;
        if digits > 0 {
            out[19] = b'.';
            for at in (20..20 + digits).rev() {
                out[at] = b'0' + (fraction % 10) as u8;
                fraction /= 10;
            }
            len = 20 + digits;
        }
        out[len] = b'Z';
        Some(len + 1)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buffer = [0u8; 30];
        match self.rfc3339(&mut buffer) {
            // ASCII digits and punctuation only.
            Some(len) => serializer.serialize_str(std::str::from_utf8(&buffer[..len]).unwrap_or_default()),
            None => self.0.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        DateTime::<Utc>::deserialize(deserializer).map(Timestamp)
    }
}

/// Described as the spec describes it: a `date-time` string, under the name `Timestamp`.
impl schemars::JsonSchema for Timestamp {
    fn schema_name() -> String {
        "Timestamp".into()
    }

    fn json_schema(generator: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
        DateTime::<Utc>::json_schema(generator)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::ops::Deref for Timestamp {
    type Target = DateTime<Utc>;
    fn deref(&self) -> &DateTime<Utc> {
        &self.0
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(value: DateTime<Utc>) -> Self {
        Timestamp(value)
    }
}

impl From<Timestamp> for DateTime<Utc> {
    fn from(value: Timestamp) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chrono_json(t: DateTime<Utc>) -> String {
        serde_json::to_string(&t).unwrap()
    }

    #[test]
    fn writes_what_chrono_writes() {
        let mut cases: Vec<DateTime<Utc>> = vec![
            DateTime::UNIX_EPOCH,
            DateTime::from_timestamp(1_764_489_600, 0).unwrap(),
            DateTime::from_timestamp(1_764_489_600, 120_000_000).unwrap(),
            DateTime::from_timestamp(1_764_489_600, 123_456_000).unwrap(),
            DateTime::from_timestamp(1_764_489_600, 123_456_789).unwrap(),
            DateTime::from_timestamp(1_764_489_600, 1_000).unwrap(),
            DateTime::from_timestamp(1_764_489_600, 1).unwrap(),
            // A leap second.
            DateTime::from_timestamp(1_483_228_799, 1_500_000_000).unwrap(),
            // Years chrono writes with a sign, and the edges of four digits.
            DateTime::from_timestamp(-62_167_219_200, 0).unwrap(),
            DateTime::from_timestamp(-62_167_219_201, 5_000).unwrap(),
            DateTime::from_timestamp(253_402_300_799, 999_999_000).unwrap(),
            DateTime::from_timestamp(253_402_300_800, 0).unwrap(),
        ];
        // And a spread of microsecond timestamps, as the store keeps them.
        let mut micros: i64 = 7;
        for _ in 0..10_000 {
            micros = micros.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            cases.push(DateTime::from_timestamp_micros(micros.rem_euclid(4_102_444_800_000_000)).unwrap());
        }
        for t in cases {
            assert_eq!(serde_json::to_string(&Timestamp(t)).unwrap(), chrono_json(t), "{t:?}");
            let back: Timestamp = serde_json::from_str(&chrono_json(t)).unwrap();
            assert_eq!(back.0, t);
        }
    }
}
