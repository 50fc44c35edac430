//! Durations as people type them, read one way everywhere: `lockscope watch --interval` and
//! `hold --for`/`--wait`, the `interval` of a saved watch-list file, and the app's settings panel.
//!
//! A bare non-negative integer is a number of seconds (`5`); anything else is read by
//! [`humantime`] (`5s`, `500ms`, `2m`, `1h 30m`, `1h30m`, `1.5s`). Whitespace around the text
//! is ignored. Errors say what was wrong in words, not as parser offsets.
#![deny(missing_docs)]

use std::time::Duration;

/// The smallest poll interval: `lockscope watch --interval`, the app's settings and the
/// watch-list file all refuse less (a monitor pass every few microseconds would only burn CPU).
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// Why a text is not an acceptable duration. Each message is one line a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing (or only whitespace) was given.
    #[error("no duration given (examples: 30s, 2m, 1h30m, 500ms, or a number of seconds)")]
    Empty,
    /// The text is not a duration at all (`abc`, `-5s`, `5 s s`).
    #[error("{text:?} is not a duration (examples: 30s, 2m, 1h30m, 500ms, or a number of seconds)")]
    NotADuration {
        /// The text as given, trimmed.
        text: String,
    },
    /// A number in a longer duration has no unit (`1h 30`).
    #[error(
        "{text:?} is not a duration: {value} needs a unit, like {value}s or {value}m \
         (examples: 30s, 2m, 1h30m, 500ms)"
    )]
    MissingUnit {
        /// The text as given, trimmed.
        text: String,
        /// The number without a unit.
        value: u64,
    },
    /// A bare number with a fraction (`0.5`): bare numbers are whole seconds.
    #[error(
        "{text:?} is not a duration: a bare number is whole seconds; for a fraction add a unit, \
         like {suggestion}"
    )]
    BareFraction {
        /// The text as given, trimmed.
        text: String,
        /// The same length with a unit (`0.5s or 500ms`).
        suggestion: String,
    },
    /// A unit that is not one (`5 fortnights`).
    #[error(
        "{text:?} is not a duration: {unit:?} is not a unit (use ms, s, m, h or d; \
         examples: 30s, 2m, 1h30m, 500ms)"
    )]
    UnknownUnit {
        /// The text as given, trimmed.
        text: String,
        /// The word that is not a unit.
        unit: String,
    },
    /// The duration cannot be represented: too large, or finer than a nanosecond.
    #[error("{text:?} is too large (or finer than 1ns) to be a duration")]
    TooLarge {
        /// The text as given, trimmed.
        text: String,
    },
    /// A valid duration, but shorter than [`MIN_INTERVAL`] where an interval was asked for.
    #[error("the interval must be at least 10ms")]
    TooShort(Duration),
}

/// Reads a duration: a bare non-negative integer is seconds, anything else humantime's syntax
/// (`30s`, `2m`, `1h 30m`, `1h30m`, `500ms`). Whitespace around the text is ignored.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    if let Some(suggestion) = bare_fraction(text) {
        return Err(DurationError::BareFraction {
            text: text.to_string(),
            suggestion,
        });
    }
    humantime::parse_duration(text).map_err(|e| {
        let text = text.to_string();
        match e {
            humantime::DurationError::Empty => DurationError::Empty,
            humantime::DurationError::NumberOverflow => DurationError::TooLarge { text },
            humantime::DurationError::UnknownUnit { unit, value, .. } if unit.is_empty() => {
                DurationError::MissingUnit { text, value }
            }
            humantime::DurationError::UnknownUnit { unit, .. } => {
                DurationError::UnknownUnit { text, unit }
            }
            humantime::DurationError::InvalidCharacter(_)
            | humantime::DurationError::NumberExpected(_) => DurationError::NotADuration { text },
        }
    })
}

/// For a bare decimal number of seconds (`0.5`, `1.25`): the same length with units, as
/// `0.5s or 500ms` (the milliseconds when they are whole).
fn bare_fraction(text: &str) -> Option<String> {
    let (whole, fraction) = text.split_once('.')?;
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.len() + fraction.len() == 0 || !digits(whole) || !digits(fraction) {
        return None;
    }
    let seconds = format!(
        "{}{}s",
        if whole.is_empty() { "0" } else { whole },
        if fraction.is_empty() {
            String::new()
        } else {
            format!(".{fraction}")
        }
    );
    let fraction_ms = fraction.trim_end_matches('0');
    if fraction_ms.len() <= 3 && whole.len() <= 12 {
        let whole: u64 = whole.parse().unwrap_or(0);
        let ms: u64 = format!("{fraction_ms:0<3}").parse().unwrap_or(0);
        return Some(format!("{seconds} or {}ms", whole * 1000 + ms));
    }
    Some(seconds)
}

/// A measured duration as people read it: milliseconds below a second, tenths of a second
/// below a minute, whole seconds above (`300ms`, `2s 500ms`, `5m 3s`), not `300ms 178us 214ns`.
pub fn readable(d: Duration) -> humantime::FormattedDuration {
    let round = |unit: u128| {
        let nanos = d.as_nanos();
        let rounded = (nanos + unit / 2) / unit * unit;
        Duration::from_nanos(u64::try_from(rounded).unwrap_or(u64::MAX))
    };
    let rounded = if d < Duration::from_secs(1) {
        round(1_000_000)
    } else if d < Duration::from_secs(60) {
        round(100_000_000)
    } else {
        round(1_000_000_000)
    };
    humantime::format_duration(rounded)
}

/// Reads a poll interval: a duration as [`parse_duration`] reads it, at least [`MIN_INTERVAL`].
pub fn parse_interval(text: &str) -> Result<Duration, DurationError> {
    match parse_duration(text)? {
        d if d < MIN_INTERVAL => Err(DurationError::TooShort(d)),
        d => Ok(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn bare_numbers_are_seconds_and_units_are_humantime() {
        for (text, expected) in [
            ("5", ms(5000)),
            ("0", ms(0)),
            ("5s", ms(5000)),
            ("500ms", ms(500)),
            ("2m", ms(120_000)),
            ("1h 30m", ms(5_400_000)),
            ("1h30m", ms(5_400_000)),
            ("1.5s", ms(1500)),
            ("  5  ", ms(5000)),
            ("\t250ms\n", ms(250)),
            ("18446744073709551615", Duration::from_secs(u64::MAX)),
        ] {
            assert_eq!(parse_duration(text), Ok(expected), "{text:?}");
        }
    }

    #[test]
    fn errors_say_what_is_wrong_in_words() {
        let message = |text: &str| parse_duration(text).unwrap_err().to_string();
        assert_eq!(
            message("abc"),
            "\"abc\" is not a duration (examples: 30s, 2m, 1h30m, 500ms, or a number of seconds)"
        );
        assert!(message(" -5s ").starts_with("\"-5s\" is not a duration (examples: 30s"));
        assert!(message("").starts_with("no duration given (examples: 30s"));
        assert!(message("   ").starts_with("no duration given"));
        assert!(
            message("1h 30").contains("30 needs a unit, like 30s or 30m"),
            "{}",
            message("1h 30")
        );
        assert!(message("5 fortnights").contains("\"fortnights\" is not a unit"));
        assert!(message("99999999999999999999h").contains("too large"));
        for text in ["abc", "", "1h 30", "5x", "99999999999999999999h", "-1"] {
            let m = message(text);
            assert!(!m.contains(" at "), "no parser offsets: {m}");
            assert!(!m.contains('\n'), "one line: {m}");
        }
    }

    #[test]
    fn a_bare_fraction_says_bare_numbers_are_whole_seconds() {
        let message = |text: &str| parse_duration(text).unwrap_err().to_string();
        assert_eq!(
            message("0.5"),
            "\"0.5\" is not a duration: a bare number is whole seconds; for a fraction add a \
             unit, like 0.5s or 500ms"
        );
        assert!(
            message("1.25").ends_with("like 1.25s or 1250ms"),
            "{}",
            message("1.25")
        );
        assert!(
            message(".5").ends_with("like 0.5s or 500ms"),
            "{}",
            message(".5")
        );
        assert!(
            message("2.").ends_with("like 2s or 2000ms"),
            "{}",
            message("2.")
        );
        assert!(
            message("0.0001").ends_with("like 0.0001s"),
            "{}",
            message("0.0001")
        );
        assert_eq!(
            parse_duration("1.5s"),
            Ok(ms(1500)),
            "with a unit it is fine"
        );
        assert!(matches!(
            parse_duration("."),
            Err(DurationError::NotADuration { .. })
        ));
    }

    #[test]
    fn measured_durations_are_rounded_to_what_people_read() {
        let read = |d: Duration| readable(d).to_string();
        assert_eq!(read(Duration::new(0, 300_178_214)), "300ms");
        assert_eq!(read(Duration::new(2, 549_999_999)), "2s 500ms");
        assert_eq!(read(Duration::new(303, 600_000_000)), "5m 4s");
        assert_eq!(read(Duration::ZERO), "0s");
        assert_eq!(read(Duration::MAX), read(Duration::MAX), "no overflow");
    }

    #[test]
    fn intervals_are_at_least_ten_milliseconds() {
        assert_eq!(parse_interval("10ms"), Ok(MIN_INTERVAL));
        assert_eq!(parse_interval("5"), Ok(ms(5000)));
        assert_eq!(parse_interval("9ms"), Err(DurationError::TooShort(ms(9))));
        assert_eq!(parse_interval("0"), Err(DurationError::TooShort(ms(0))));
        assert_eq!(
            parse_interval("1ms").unwrap_err().to_string(),
            "the interval must be at least 10ms"
        );
        assert!(matches!(
            parse_interval("soon"),
            Err(DurationError::NotADuration { .. })
        ));
    }
}

/// Fuzzing with proptest, bounded for CI: `PROPTEST_CASES=N` runs N cases per property.
/// (proptest is a Unix-only dev-dependency: the Windows test build runs under Wine.)
#[cfg(all(test, unix))]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// What the app and the watch-list file write (humantime's format) reads back exactly.
        #[test]
        fn formatted_intervals_parse_back(secs in 0u64..=1_000_000_000_000, nanos in 0u32..1_000_000_000) {
            let d = Duration::new(secs, nanos);
            prop_assume!(d >= MIN_INTERVAL);
            let text = humantime::format_duration(d).to_string();
            prop_assert_eq!(parse_interval(&text), Ok(d), "{}", text);
            prop_assert_eq!(parse_duration(&format!("  {text} ")), Ok(d), "{}", text);
        }

        /// Any text is either a duration or an error with a one-line message; never a panic.
        #[test]
        fn any_text_parses_or_explains(text in "\\PC{0,24}") {
            if let Err(e) = parse_duration(&text) {
                prop_assert!(!e.to_string().contains('\n'));
            }
        }
    }
}
