//! Timestamps as the council stamps them: UTC, millisecond precision, RFC 3339 text
//! (`2026-11-26T11:00:00.123Z`) on the wire.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Milliseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn from_millis(ms: i64) -> Timestamp {
        Timestamp(ms)
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    /// The last instant RFC 3339 text can carry: 9999-12-31T23:59:59.999Z.
    pub const MAX: Timestamp = Timestamp(253_402_300_799_999);

    /// This time plus `secs` seconds, saturating at [`Timestamp::MAX`] so that the
    /// result always serializes (and parses back) as itself.
    pub fn plus_secs(self, secs: u64) -> Timestamp {
        let ms = i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000);
        Timestamp(self.0.saturating_add(ms).min(Timestamp::MAX.0.max(self.0)))
    }

    /// RFC 3339 text, always `Z` and exactly three fractional digits.
    pub fn to_rfc3339(self) -> String {
        let dt = OffsetDateTime::from_unix_timestamp_nanos(self.0 as i128 * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            dt.year(),
            u8::from(dt.month()),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second(),
            dt.millisecond()
        )
    }

    /// Parses any RFC 3339 date-time; sub-millisecond digits are truncated.
    pub fn parse(s: &str) -> Result<Timestamp, String> {
        let dt = OffsetDateTime::parse(s, &Rfc3339)
            .map_err(|e| format!("not an RFC 3339 date-time: {s:?}: {e}"))?;
        Ok(Timestamp((dt.unix_timestamp_nanos() / 1_000_000) as i64))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text() {
        let t = Timestamp(1_764_154_800_123);
        let s = t.to_rfc3339();
        assert_eq!(s, "2025-11-26T11:00:00.123Z");
        assert_eq!(Timestamp::parse(&s).unwrap(), t);
        assert_eq!(
            Timestamp::parse("2025-11-26T12:00:00.123+01:00").unwrap(),
            t
        );
        assert!(Timestamp::parse("yesterday").is_err());
    }

    /// Regression (found by the fuzz work): a voting period clause 5.5 allows, added
    /// to the start time, went past year 9999 and serialized as 1970-01-01; and
    /// periods above i64::MAX seconds went backwards.
    #[test]
    fn plus_secs_stays_representable() {
        let t = Timestamp(1_764_154_800_123);
        for secs in [(1u64 << 53) - 1, i64::MAX as u64, u64::MAX] {
            let end = t.plus_secs(secs);
            assert_eq!(end, Timestamp::MAX, "{secs}");
            assert_eq!(Timestamp::parse(&end.to_rfc3339()).unwrap(), end);
        }
        assert_eq!(Timestamp::MAX.to_rfc3339(), "9999-12-31T23:59:59.999Z");
        assert_eq!(t.plus_secs(60), Timestamp(1_764_154_860_123));
    }
}
