//! `AmzDateTime`: the SigV4 request time (`x-amz-date`, `X-Amz-Date`,
//! `yyyymmddThhmmssZ`, always UTC) and its conversion to and from unix seconds
//! by civil-date arithmetic (Howard Hinnant's `days_from_civil`), so the module
//! needs no date crate and no clock: callers pass `now_unix` in.

use std::fmt;

use super::text::excerpt;

const SECS_PER_DAY: i64 = 86_400;
/// Four-digit years only: the text form has no room for more.
const YEAR_MIN: i64 = 0;
const YEAR_MAX: i64 = 9999;

/// A request time to the second, in the range 0000-01-01 to 9999-12-31 (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AmzDateTime {
    unix_secs: i64,
}

/// Text that is not a `yyyymmddThhmmssZ` time (an excerpt of it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidDate {
    pub value: String,
}

impl AmzDateTime {
    /// Parses exactly `yyyymmddThhmmssZ`: 16 bytes, a real calendar date, hours
    /// below 24, minutes and seconds below 60 (no leap second: no client sends one).
    pub fn parse(value: &[u8]) -> Result<Self, InvalidDate> {
        let invalid = || InvalidDate {
            value: excerpt(value),
        };
        let [y0, y1, y2, y3, mo0, mo1, d0, d1, b'T', h0, h1, mi0, mi1, s0, s1, b'Z'] = *value
        else {
            return Err(invalid());
        };
        let digits = |ds: &[u8]| -> Option<i64> {
            ds.iter().try_fold(0i64, |acc, &d| {
                d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
            })
        };
        let fields = (|| {
            Some((
                digits(&[y0, y1, y2, y3])?,
                digits(&[mo0, mo1])?,
                digits(&[d0, d1])?,
                digits(&[h0, h1])?,
                digits(&[mi0, mi1])?,
                digits(&[s0, s1])?,
            ))
        })();
        let Some((year, month, day, hour, minute, second)) = fields else {
            return Err(invalid());
        };
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return Err(invalid());
        }
        let unix_secs =
            days_from_civil(year, month, day) * SECS_PER_DAY + hour * 3600 + minute * 60 + second;
        Ok(Self { unix_secs })
    }

    /// The time `unix_secs` seconds after 1970-01-01T00:00:00Z; `None` outside
    /// years 0000..=9999, which the text form cannot carry.
    pub fn from_unix_secs(unix_secs: i64) -> Option<Self> {
        let min = days_from_civil(YEAR_MIN, 1, 1) * SECS_PER_DAY;
        let max = days_from_civil(YEAR_MAX + 1, 1, 1) * SECS_PER_DAY - 1;
        (min..=max)
            .contains(&unix_secs)
            .then_some(Self { unix_secs })
    }

    pub fn unix_secs(self) -> i64 {
        self.unix_secs
    }

    /// `yyyymmdd`: the credential scope's date.
    pub fn date(self) -> String {
        String::from_utf8_lossy(&self.text()[..8]).into_owned()
    }

    /// `yyyymmddThhmmssZ` as bytes, without formatting machinery: the request
    /// path writes it into every string to sign.
    pub fn text(self) -> [u8; 16] {
        let days = self.unix_secs.div_euclid(SECS_PER_DAY);
        let secs = self.unix_secs.rem_euclid(SECS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let mut out = *b"00000000T000000Z";
        let mut put = |at: usize, width: usize, mut value: i64| {
            for i in (at..at + width).rev() {
                out[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(0, 4, year);
        put(4, 2, month);
        put(6, 2, day);
        put(9, 2, secs / 3600);
        put(11, 2, secs / 60 % 60);
        put(13, 2, secs % 60);
        out
    }
}

/// `yyyymmddThhmmssZ`.
impl fmt::Display for AmzDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.text()))
    }
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1..=12).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month 1..=12, day 1..=31).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(text: &str, expected_unix: Option<i64>) {
        let parsed = AmzDateTime::parse(text.as_bytes())
            .ok()
            .map(AmzDateTime::unix_secs);
        assert_eq!(parsed, expected_unix, "{text}");
        if let Some(unix) = expected_unix {
            assert_eq!(AmzDateTime::from_unix_secs(unix).unwrap().to_string(), text);
        }
    }

    #[test]
    fn parse_and_format() {
        check("19700101T000000Z", Some(0));
        check("20130524T000000Z", Some(1_369_353_600));
        check("20130721T201207Z", Some(1_374_437_527));
        check("20000229T235959Z", Some(951_868_799));
        check("19691231T235959Z", Some(-1));
        check("00000101T000000Z", Some(-62_167_219_200));
        check("99991231T235959Z", Some(253_402_300_799));
        check("20240229T120000Z", Some(1_709_208_000));
        // Not calendar dates or not the exact shape.
        check("19000229T000000Z", None);
        check("20230229T000000Z", None);
        check("20130431T000000Z", None);
        check("20130001T000000Z", None);
        check("20131301T000000Z", None);
        check("20130100T000000Z", None);
        check("20130524T240000Z", None);
        check("20130524T006000Z", None);
        check("20130524T000060Z", None);
        check("20130524T000000", None);
        check("20130524t000000Z", None);
        check("20130524T000000z", None);
        check("2013-05-24T00:00:00Z", None);
        check("20130524T000000Z ", None);
        check(" 20130524T000000Z", None);
        check("+0130524T000000Z", None);
        check("Fri, 24 May 2013 00:00:00 GMT", None);
        check("", None);
    }

    #[test]
    fn date_is_the_scope_date() {
        let t = AmzDateTime::parse(b"20130524T235959Z").unwrap();
        assert_eq!(t.date(), "20130524");
        assert_eq!(AmzDateTime::from_unix_secs(-1).unwrap().date(), "19691231");
    }

    #[test]
    fn range_is_four_digit_years() {
        assert!(AmzDateTime::from_unix_secs(253_402_300_799).is_some());
        assert!(AmzDateTime::from_unix_secs(253_402_300_800).is_none());
        assert!(AmzDateTime::from_unix_secs(-62_167_219_200).is_some());
        assert!(AmzDateTime::from_unix_secs(-62_167_219_201).is_none());
        assert!(AmzDateTime::from_unix_secs(i64::MAX).is_none());
        assert!(AmzDateTime::from_unix_secs(i64::MIN).is_none());
    }

    proptest! {
        #[test]
        fn unix_round_trips(unix in -62_167_219_200i64..=253_402_300_799) {
            let t = AmzDateTime::from_unix_secs(unix).unwrap();
            let text = t.to_string();
            prop_assert_eq!(AmzDateTime::parse(text.as_bytes()).unwrap(), t);
            prop_assert_eq!(&text[..8], t.date());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
            let _ = AmzDateTime::parse(&bytes);
        }

        #[test]
        fn digit_strings_never_panic(text in "[0-9]{8}T[0-9]{6}Z") {
            if let Ok(t) = AmzDateTime::parse(text.as_bytes()) {
                prop_assert_eq!(t.to_string(), text);
            }
        }
    }
}
