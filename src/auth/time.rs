//! Times in caveats: unix seconds (UTC), parsed from RFC 3339 or from an
//! offset to a `now` the caller passes (nothing here reads a clock), and shown
//! as RFC 3339.
//!
//! Accepted forms:
//! - `now`
//! - `+24h`, `-15m`, `+1d12h`: a sign, then one or more `<digits><unit>`
//!   with units `s`, `m`, `h`, `d` (86 400 s), `w` (7 d)
//! - RFC 3339 date-time: `2025-03-01T12:00:00Z`, `2025-03-01t12:00:00.5+02:00`,
//!   also with a space for the `T` (RFC 3339 §5.6 note). Fractions of a second
//!   are dropped (the time moves back, to the whole second); a leap second
//!   (`:60`) counts as `:59`.

use super::error::GrantError;

const DAY: i64 = 86_400;
const NOT_RFC3339: &str = "not an RFC 3339 time, e.g. 2025-03-01T12:00:00Z";

/// Parses a caveat time; `now_unix` anchors `now` and the relative forms.
pub fn parse_time(input: &str, now_unix: i64) -> Result<i64, GrantError> {
    let err = |reason: &'static str| GrantError::Time(reason);
    match input.as_bytes().first() {
        None => Err(err("empty time")),
        _ if input == "now" => Ok(now_unix),
        Some(sign @ (b'+' | b'-')) => {
            let offset = parse_offset(&input[1..]).map_err(err)?;
            let signed = if *sign == b'-' { -offset } else { offset };
            now_unix
                .checked_add(signed)
                .ok_or(err("relative time out of range"))
        }
        Some(_) => parse_rfc3339(input.as_bytes()).map_err(err),
    }
}

fn parse_offset(s: &str) -> Result<i64, &'static str> {
    if s.is_empty() {
        return Err("relative time without an amount, e.g. +24h");
    }
    let mut total: i64 = 0;
    let mut rest = s.as_bytes();
    while !rest.is_empty() {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return Err("relative time needs digits before each unit, e.g. +1d12h");
        }
        let unit = match rest.get(digits) {
            Some(b's') => 1,
            Some(b'm') => 60,
            Some(b'h') => 3_600,
            Some(b'd') => DAY,
            Some(b'w') => 7 * DAY,
            _ => return Err("relative time needs a unit after each amount: s, m, h, d or w"),
        };
        let amount: i64 = std::str::from_utf8(&rest[..digits])
            .expect("ASCII digits")
            .parse()
            .map_err(|_| "relative time out of range")?;
        total = amount
            .checked_mul(unit)
            .and_then(|secs| total.checked_add(secs))
            .ok_or("relative time out of range")?;
        rest = &rest[digits + 1..];
    }
    Ok(total)
}

fn digits(s: &[u8], at: usize, len: usize) -> Result<i64, &'static str> {
    let field = s.get(at..at + len).ok_or(NOT_RFC3339)?;
    field.iter().try_fold(0i64, |n, &b| {
        if b.is_ascii_digit() {
            Ok(n * 10 + i64::from(b - b'0'))
        } else {
            Err(NOT_RFC3339)
        }
    })
}

fn expect(s: &[u8], at: usize, allowed: &[u8]) -> Result<(), &'static str> {
    match s.get(at) {
        Some(b) if allowed.contains(b) => Ok(()),
        _ => Err(NOT_RFC3339),
    }
}

fn parse_rfc3339(s: &[u8]) -> Result<i64, &'static str> {
    // YYYY-MM-DDTHH:MM:SS
    let year = digits(s, 0, 4)?;
    expect(s, 4, b"-")?;
    let month = digits(s, 5, 2)?;
    expect(s, 7, b"-")?;
    let day = digits(s, 8, 2)?;
    expect(s, 10, b"Tt ")?;
    let hour = digits(s, 11, 2)?;
    expect(s, 13, b":")?;
    let minute = digits(s, 14, 2)?;
    expect(s, 16, b":")?;
    let second = digits(s, 17, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err("no such date");
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err("no such time of day");
    }
    let mut at = 19;
    if s.get(at) == Some(&b'.') {
        let fraction = s[at + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if fraction == 0 {
            return Err("a '.' without fraction digits");
        }
        at += 1 + fraction;
    }
    let offset = match s.get(at) {
        Some(b'Z' | b'z') => {
            at += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            let hours = digits(s, at + 1, 2)?;
            expect(s, at + 3, b":")?;
            let minutes = digits(s, at + 4, 2)?;
            if hours > 23 || minutes > 59 {
                return Err("no such UTC offset");
            }
            let offset = hours * 3_600 + minutes * 60;
            at += 6;
            if *sign == b'-' {
                -offset
            } else {
                offset
            }
        }
        _ => return Err("an RFC 3339 time needs Z or a UTC offset such as +02:00"),
    };
    if at != s.len() {
        return Err("trailing characters after the time");
    }
    let seconds = hour * 3_600 + minute * 60 + second.min(59);
    Ok(days_from_civil(year, month, day) * DAY + seconds - offset)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// RFC 3339 in UTC (`2025-03-01T12:00:00Z`); a time outside years 0000–9999
/// shows as `@<unix seconds>`.
pub fn format_time(unix: i64) -> String {
    let (year, month, day) = civil_from_days(unix.div_euclid(DAY));
    if !(0..=9999).contains(&year) {
        return format!("@{unix}");
    }
    let secs = unix.rem_euclid(DAY);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3_600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000; // 2023-11-14T22:13:20Z

    fn check(input: &str, expected: Result<i64, &'static str>) {
        assert_eq!(
            parse_time(input, NOW),
            expected.map_err(GrantError::Time),
            "{input:?}"
        );
    }

    #[test]
    fn times() {
        check("now", Ok(NOW));
        check("+24h", Ok(NOW + DAY));
        check("-15m", Ok(NOW - 900));
        check("+1d12h", Ok(NOW + DAY + 12 * 3_600));
        check("+2w", Ok(NOW + 14 * DAY));
        check("+0s", Ok(NOW));
        check("1970-01-01T00:00:00Z", Ok(0));
        check("2023-11-14T22:13:20Z", Ok(NOW));
        check("2023-11-14t22:13:20.999z", Ok(NOW));
        check("2023-11-14 23:13:20+01:00", Ok(NOW));
        check("2023-11-14T17:43:20-04:30", Ok(NOW));
        check("2000-02-29T00:00:00Z", Ok(951_782_400));
        check("1969-12-31T23:59:59Z", Ok(-1));
        check("2016-12-31T23:59:60Z", Ok(1_483_228_799));
        check("9999-12-31T23:59:59Z", Ok(253_402_300_799));
        check("", Err("empty time"));
        check("+", Err("relative time without an amount, e.g. +24h"));
        check(
            "+24",
            Err("relative time needs a unit after each amount: s, m, h, d or w"),
        );
        check(
            "+h",
            Err("relative time needs digits before each unit, e.g. +1d12h"),
        );
        check(
            "+24y",
            Err("relative time needs a unit after each amount: s, m, h, d or w"),
        );
        check("+99999999999999999999s", Err("relative time out of range"));
        check("+9999999999999999w", Err("relative time out of range"));
        check("2023-02-29T00:00:00Z", Err("no such date"));
        check("1900-02-29T00:00:00Z", Err("no such date"));
        check("2023-13-01T00:00:00Z", Err("no such date"));
        check("2023-04-31T00:00:00Z", Err("no such date"));
        check("2023-01-01T24:00:00Z", Err("no such time of day"));
        check(
            "2023-01-01T00:00:00",
            Err("an RFC 3339 time needs Z or a UTC offset such as +02:00"),
        );
        check(
            "2023-01-01T00:00:00.Z",
            Err("a '.' without fraction digits"),
        );
        check(
            "2023-01-01T00:00:00Zx",
            Err("trailing characters after the time"),
        );
        check("2023-01-01T00:00:00+24:00", Err("no such UTC offset"));
        check("2023-01-01", Err(NOT_RFC3339));
        check("2023-1-01T00:00:00Z", Err(NOT_RFC3339));
        check("tomorrow", Err(NOT_RFC3339));
        check("2023-01-01T00:00:00+01", Err(NOT_RFC3339));
    }

    #[test]
    fn formats_round_trip() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(NOW), "2023-11-14T22:13:20Z");
        assert_eq!(format_time(-1), "1969-12-31T23:59:59Z");
        assert_eq!(format_time(i64::MAX), format!("@{}", i64::MAX));
        assert_eq!(format_time(i64::MIN), format!("@{}", i64::MIN));
        for t in [-62_167_219_200, -1, 0, 951_782_400, NOW, 253_402_300_799] {
            assert_eq!(parse_time(&format_time(t), 0), Ok(t), "{t}");
        }
        let mut t = -62_167_219_200; // 0000-01-01
        while t < 253_402_300_799 {
            assert_eq!(parse_time(&format_time(t), 0), Ok(t), "{t}");
            t += 7 * DAY + 3_601;
        }
    }
}
