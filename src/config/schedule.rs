//! Schedules in cron syntax (`schedule = "0 2 * * SUN"`), read in UTC, and the one config word
//! built only from them: `[[pool.endpoint.weight_schedule]]` (follow-the-sun weights). The
//! other word with a schedule, `[[maintenance]]`, lives in [`super::maintenance`].
//!
//! Cron syntax is parsed by the `croner` crate: five fields (minute hour day-of-month month
//! day-of-week), or six with a leading seconds field, or seven with seconds and a trailing
//! year; ranges, lists, steps,
//! names (`MON-FRI`, `JAN`), `L` and `#` work as in Vixie cron. Times are **UTC**, always: a
//! schedule never moves with daylight saving time.
//!
//! ```toml
//! [[pool.endpoint]]
//! name = "eu-west-a"
//! addresses = ["198.51.100.10"]
//! weight = 1                          # before the first firing, and without schedule
//!
//! [[pool.endpoint.weight_schedule]]
//! schedule = "0 7 * * *"              # from 07:00 UTC every day...
//! weight = 5                          # ...the weight is 5 (0..=1000; 0 drains)
//!
//! [[pool.endpoint.weight_schedule]]
//! schedule = "0 19 * * *"             # from 19:00 UTC, 1 again
//! weight = 1
//! ```
//!
//! The effective weight at an instant is the weight of the entry that fired last (at or
//! before that instant); before any entry has fired (a schedule that has never fired yet),
//! the endpoint's `weight`. The weight changes at the scheduled instants, applied by the
//! operations tick (background work): the query path reads the weight the health view carries
//! and never evaluates a schedule.

use serde::Deserialize;
use std::ops::Range;
use std::time::{Duration, SystemTime};
use toml::Spanned;

/// The largest scheduled weight.
pub const MAX_WEIGHT: i64 = 1000;

/// The most entries one endpoint's weight schedule may have.
pub const MAX_ENTRIES: usize = 64;

/// A parsed cron schedule (UTC).
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: croner::Cron,
    text: String,
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

fn civil(t: SystemTime) -> Option<jiff::civil::DateTime> {
    // Whole seconds: cron has no finer resolution.
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs();
    let ts = jiff::Timestamp::from_second(i64::try_from(secs).ok()?).ok()?;
    Some(jiff::tz::Offset::UTC.to_datetime(ts))
}

fn instant(dt: jiff::civil::DateTime) -> Option<SystemTime> {
    let ts = jiff::tz::Offset::UTC.to_timestamp(dt).ok()?;
    let secs = u64::try_from(ts.as_second()).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

impl Schedule {
    /// Parse cron text; `Err` says what is wrong with it.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("the schedule is empty (cron syntax: \"MIN HOUR DOM MON DOW\")".into());
        }
        if t.len() > 200 {
            return Err("the schedule is longer than 200 characters".into());
        }
        let cron = croner::parser::CronParser::new()
            .parse(t)
            .map_err(|e| format!("`{t}` is not a cron schedule: {e}"))?;
        let s = Schedule {
            cron,
            text: t.to_string(),
        };
        // A pattern that can never fire (`0 0 31 2 *`) is a mistake.
        if s.next_after(SystemTime::UNIX_EPOCH).is_none() {
            return Err(format!("`{t}` never fires"));
        }
        Ok(s)
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first firing strictly after `t`.
    pub fn next_after(&self, t: SystemTime) -> Option<SystemTime> {
        let dt = civil(t)?;
        let next = self.cron.find_next_occurrence(&dt, false).ok()?;
        instant(next)
    }

    /// The last firing at or before `t`.
    pub fn last_at_or_before(&self, t: SystemTime) -> Option<SystemTime> {
        let dt = civil(t)?;
        let prev = self.cron.find_previous_occurrence(&dt, true).ok()?;
        instant(prev)
    }

    /// The shortest time between two firings, over the first `n` firings from `from` (a
    /// schedule's rhythm shows within them: minutes within an hour, days within a year).
    pub fn shortest_gap(&self, from: SystemTime, n: usize) -> Option<Duration> {
        let mut prev = self.next_after(from)?;
        let mut best: Option<Duration> = None;
        for _ in 0..n {
            let Some(next) = self.next_after(prev) else {
                break;
            };
            let gap = next.duration_since(prev).unwrap_or_default();
            best = Some(best.map_or(gap, |b| b.min(gap)));
            prev = next;
        }
        best
    }
}

/// Where the shortest gap is measured from (a fixed instant, so `check` says the same
/// whenever it runs): 2024-01-01T00:00:00Z, a leap year.
pub fn gap_from() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200)
}

/// `[[pool.endpoint.weight_schedule]]`: from each firing of `schedule` on, the endpoint's
/// weight is `weight`.
#[derive(Debug, Clone, Deserialize)]
pub struct WeightScheduleConfig {
    /// Cron syntax, UTC.
    pub schedule: Spanned<String>,
    /// The weight from each firing on (0..=1000; 0 drains).
    pub weight: Spanned<i64>,
}

/// One compiled entry of a weight schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightStep {
    /// When it fires.
    pub schedule: Schedule,
    /// The weight from then on.
    pub weight: u32,
}

/// Check and compile an endpoint's weight schedule; every problem goes to `err` with the span
/// of the offending value.
pub fn compile_weights(
    entries: &[WeightScheduleConfig],
    endpoint: &str,
    err: &mut dyn FnMut(Range<usize>, String),
) -> Vec<WeightStep> {
    if entries.len() > MAX_ENTRIES
        && let Some(first) = entries.first()
    {
        err(
            first.schedule.span(),
            format!("endpoint `{endpoint}`: more than {MAX_ENTRIES} weight_schedule entries"),
        );
    }
    let mut out = Vec::new();
    for e in entries {
        let w = *e.weight.get_ref();
        if !(0..=MAX_WEIGHT).contains(&w) {
            err(
                e.weight.span(),
                format!(
                    "endpoint `{endpoint}`: weight_schedule weight {w} is out of range: it must be between 0 and {MAX_WEIGHT}"
                ),
            );
            continue;
        }
        match Schedule::parse(e.schedule.get_ref()) {
            Ok(schedule) => out.push(WeightStep {
                schedule,
                weight: w as u32,
            }),
            Err(why) => err(
                e.schedule.span(),
                format!("endpoint `{endpoint}`: weight_schedule: {why}"),
            ),
        }
    }
    out
}

/// The weight in force at `t`: that of the entry that fired last at or before `t` (the earlier
/// entry wins a tie), else `configured`.
pub fn weight_at(steps: &[WeightStep], configured: u32, t: SystemTime) -> u32 {
    let mut best: Option<(SystemTime, u32)> = None;
    for s in steps {
        if let Some(at) = s.schedule.last_at_or_before(t)
            && best.is_none_or(|(b, _)| at > b)
        {
            best = Some((at, s.weight));
        }
    }
    best.map_or(configured, |(_, w)| w)
}

/// The next instant after `t` at which an entry fires, and the weight from then on.
pub fn next_weight(steps: &[WeightStep], t: SystemTime) -> Option<(SystemTime, u32)> {
    let mut best: Option<(SystemTime, u32)> = None;
    for s in steps {
        if let Some(at) = s.schedule.next_after(t)
            && best.is_none_or(|(b, _)| at < b)
        {
            best = Some((at, s.weight));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc: &str) -> SystemTime {
        humantime::parse_rfc3339(rfc).unwrap()
    }

    #[test]
    fn next_and_last_firings_are_utc() {
        let s = Schedule::parse("30 2 * * *").unwrap();
        let t = at("2026-03-29T01:00:00Z"); // a DST change in Europe: UTC does not care
        assert_eq!(s.next_after(t), Some(at("2026-03-29T02:30:00Z")));
        assert_eq!(s.last_at_or_before(t), Some(at("2026-03-28T02:30:00Z")));
        // At the instant itself: the last firing is now, the next one tomorrow.
        let f = at("2026-03-29T02:30:00Z");
        assert_eq!(s.last_at_or_before(f), Some(f));
        assert_eq!(s.next_after(f), Some(at("2026-03-30T02:30:00Z")));
        // Sub-second instants count as their second.
        let s = Schedule::parse("* * * * *").unwrap();
        let t = at("2026-01-01T00:00:30.500Z");
        assert_eq!(s.next_after(t), Some(at("2026-01-01T00:01:00Z")));
        assert_eq!(s.last_at_or_before(t), Some(at("2026-01-01T00:00:00Z")));
    }

    #[test]
    fn weekdays_names_and_steps() {
        let s = Schedule::parse("0 2 * * SUN").unwrap();
        // 2026-12-24 is a Thursday; the next Sunday is the 27th.
        assert_eq!(
            s.next_after(at("2026-12-24T00:00:00Z")),
            Some(at("2026-12-27T02:00:00Z"))
        );
        let s = Schedule::parse("*/7 * * * *").unwrap();
        assert_eq!(
            s.shortest_gap(gap_from(), 100),
            Some(Duration::from_secs(4 * 60))
        );
        let s = Schedule::parse("0 0 1,31 * *").unwrap();
        assert_eq!(
            s.shortest_gap(gap_from(), 100),
            Some(Duration::from_secs(24 * 3600))
        );
    }

    #[test]
    fn bad_schedules_say_why() {
        for bad in ["", "61 * * * *", "* * *", "nonsense", "0 0 31 2 *"] {
            let e = Schedule::parse(bad).unwrap_err();
            assert!(!e.is_empty(), "{bad}");
        }
        assert!(
            Schedule::parse("0 0 31 2 *")
                .unwrap_err()
                .contains("never fires")
        );
    }

    #[test]
    fn the_weight_is_the_last_fired_entry_s() {
        let steps = vec![
            WeightStep {
                schedule: Schedule::parse("0 7 * * *").unwrap(),
                weight: 5,
            },
            WeightStep {
                schedule: Schedule::parse("0 19 * * *").unwrap(),
                weight: 0,
            },
        ];
        assert_eq!(weight_at(&steps, 1, at("2026-06-01T08:00:00Z")), 5);
        assert_eq!(weight_at(&steps, 1, at("2026-06-01T06:59:59Z")), 0);
        assert_eq!(weight_at(&steps, 1, at("2026-06-01T19:00:00Z")), 0);
        assert_eq!(weight_at(&[], 3, at("2026-06-01T19:00:00Z")), 3);
        assert_eq!(
            next_weight(&steps, at("2026-06-01T08:00:00Z")),
            Some((at("2026-06-01T19:00:00Z"), 0))
        );
        // Never fired yet (a year in the future): the configured weight.
        let later = vec![WeightStep {
            schedule: Schedule::parse("0 0 0 1 1 * 2030").unwrap(),
            weight: 9,
        }];
        assert_eq!(weight_at(&later, 2, at("2026-06-01T00:00:00Z")), 2);
        assert_eq!(weight_at(&later, 2, at("2030-06-01T00:00:00Z")), 9);
    }
}
