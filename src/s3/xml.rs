//! S3's XML bodies: the request parsers (`request`), the response writers
//! (`response`) and the primitives both share here: text escaping, the S3
//! timestamp format, `encoding-type=url` encoding and ETag quoting.
//!
//! Pure code over byte slices. Parsers use quick-xml and answer `MalformedXML`
//! (never panic) for anything that is not the documented shape; writers are a
//! small hand-written emitter, so the bytes on the wire (element order, empty
//! elements, escaping of control characters) are exactly what S3 sends.

pub mod request;
pub mod response;

/// The namespace S3 puts on the root of its result documents.
pub const S3_NAMESPACE: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// What S3 writes before every XML body.
pub const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// Appends `text` to `out` as XML character data.
///
/// `& < > " '` become the predefined entities (S3 writes ETags as
/// `&quot;…&quot;`). Control characters become character references, as S3
/// writes them (`&#x1b;`): `\r` must be escaped to survive end-of-line
/// normalization, and the other C0 characters are not allowed literally. Those
/// other references are not well-formed XML 1.0, which is why clients ask for
/// `encoding-type=url`; S3 sends them anyway and so do we, rather than change
/// a key. Tab and line feed stay literal.
pub fn escape_into(out: &mut String, text: &str) {
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' => out.push(ch),
            '\u{0}'..='\u{1f}' => out.push_str(&format!("&#x{:x};", ch as u32)),
            _ => out.push(ch),
        }
    }
}

/// `text` escaped as XML character data; see [`escape_into`].
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

/// Encodes `text` as S3 does for `encoding-type=url`: form encoding over
/// UTF-8 (Java's `URLEncoder`) that keeps `/`. `A–Z a–z 0–9 . - * _ /` stay, a
/// space becomes `+`, every other byte becomes `%XX` in upper-case hex.
/// Measured on S3: `a b.txt` → `a+b.txt`, `a+b.txt` → `a%2Bb.txt`,
/// `100%.csv` → `100%25.csv`, `한글/x.txt` → `%ED%95%9C%EA%B8%80/x.txt`.
/// Clients decode with form decoding (`+` is a space), so any key survives.
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' | b'/' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// `etag` with exactly one pair of surrounding double quotes, the form S3
/// writes in XML and in the `ETag` header. An ETag already quoted is kept.
pub fn quote_etag(etag: &str) -> String {
    if etag.len() >= 2 && etag.starts_with('"') && etag.ends_with('"') {
        etag.to_string()
    } else {
        format!("\"{etag}\"")
    }
}

/// `etag` without one pair of surrounding double quotes, if it has them.
pub fn unquote_etag(etag: &str) -> &str {
    etag.strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(etag)
}

/// Formats milliseconds since the Unix epoch as S3's XML timestamp,
/// ISO 8601 in UTC with milliseconds: `2009-10-12T17:50:30.000Z`.
///
/// Valid for every `i64`: years before 1 or after 9999 are written with a sign
/// or more digits, which no object timestamp reaches.
pub fn format_timestamp_ms(unix_ms: i64) -> String {
    let millis = unix_ms.rem_euclid(1000);
    let seconds = unix_ms.div_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60,
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097); // [0, 146096]
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365; // [0, 399]
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100); // [0, 365]
    let month_index = (5 * day_of_year + 2) / 153; // [0, 11], March first
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A minimal XML emitter: a declaration, then elements whose text is always
/// escaped. Element names are trusted constants; text never is.
pub(crate) struct XmlWriter {
    out: String,
}

impl XmlWriter {
    /// A document starting with [`XML_DECLARATION`].
    pub(crate) fn new() -> Self {
        XmlWriter {
            out: String::from(XML_DECLARATION),
        }
    }

    pub(crate) fn start(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    /// The root element, with the S3 namespace.
    pub(crate) fn start_root(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push_str(" xmlns=\"");
        self.out.push_str(S3_NAMESPACE);
        self.out.push_str("\">");
    }

    /// An empty root element with the S3 namespace: `<Name xmlns="…"/>`.
    pub(crate) fn empty_root(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push_str(" xmlns=\"");
        self.out.push_str(S3_NAMESPACE);
        self.out.push_str("\"/>");
    }

    pub(crate) fn end(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// Escaped character data at the current position.
    pub(crate) fn text(&mut self, text: &str) {
        escape_into(&mut self.out, text);
    }

    /// `<name>text</name>`, with `text` escaped. Empty text is written as a
    /// start and end tag, the way S3 writes an empty `<Prefix></Prefix>`.
    pub(crate) fn element(&mut self, name: &str, text: &str) {
        self.start(name);
        escape_into(&mut self.out, text);
        self.end(name);
    }

    pub(crate) fn element_opt(&mut self, name: &str, text: Option<&str>) {
        if let Some(text) = text {
            self.element(name, text);
        }
    }

    /// `<name>text</name>` where `text` is url-encoded first when `url` is set.
    pub(crate) fn element_encoded(&mut self, name: &str, text: &str, url: bool) {
        if url {
            self.element(name, &url_encode(text));
        } else {
            self.element(name, text);
        }
    }

    pub(crate) fn element_display(&mut self, name: &str, value: impl std::fmt::Display) {
        self.element(name, &value.to_string());
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        let check = |unix_ms: i64, expected: &str| {
            assert_eq!(format_timestamp_ms(unix_ms), expected, "{unix_ms}");
        };
        check(0, "1970-01-01T00:00:00.000Z");
        check(1_255_369_830_000, "2009-10-12T17:50:30.000Z");
        check(1_255_369_830_007, "2009-10-12T17:50:30.007Z");
        check(951_782_400_000, "2000-02-29T00:00:00.000Z");
        check(951_868_799_999, "2000-02-29T23:59:59.999Z");
        check(4_107_542_400_000, "2100-03-01T00:00:00.000Z");
        check(1_709_164_800_000, "2024-02-29T00:00:00.000Z");
        check(253_402_300_799_999, "9999-12-31T23:59:59.999Z");
        check(-1, "1969-12-31T23:59:59.999Z");
        check(-86_400_000, "1969-12-31T00:00:00.000Z");
        check(-62_135_596_800_000, "0001-01-01T00:00:00.000Z");
        // Extremes do not panic.
        let _ = format_timestamp_ms(i64::MIN);
        let _ = format_timestamp_ms(i64::MAX);
    }

    #[test]
    fn timestamps_agree_with_httpdate() {
        // An independent calendar: httpdate formats IMF-fixdate from SystemTime.
        let months = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let mut seconds: u64 = 0;
        while seconds < 8_000_000_000 {
            let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds);
            let http = httpdate::fmt_http_date(time); // "Sun, 06 Nov 1994 08:49:37 GMT"
            let ours = format_timestamp_ms(seconds as i64 * 1000);
            let month = months.iter().position(|m| *m == &http[8..11]).unwrap() + 1;
            let expected = format!(
                "{}-{month:02}-{}T{}.000Z",
                &http[12..16],
                &http[5..7],
                &http[17..25]
            );
            assert_eq!(ours, expected, "{http}");
            seconds += 7_777_777; // about 90 days, walks every month and leap year
        }
    }

    #[test]
    fn escaping() {
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(
            escape("tab\tlf\ncr\rnul\0esc\u{1b}"),
            "tab\tlf\ncr&#xd;nul&#x0;esc&#x1b;"
        );
        assert_eq!(escape("ключ/日本/😀"), "ключ/日本/😀");
        assert_eq!(escape("\u{7f}"), "\u{7f}");
    }

    #[test]
    fn url_encoding() {
        assert_eq!(
            url_encode("photos/2006/Jan 1+2.jpg"),
            "photos/2006/Jan+1%2B2.jpg"
        );
        // The rows measured on S3.
        assert_eq!(url_encode("a b.txt"), "a+b.txt");
        assert_eq!(url_encode("a+b.txt"), "a%2Bb.txt");
        assert_eq!(url_encode("100%.csv"), "100%25.csv");
        assert_eq!(url_encode("한글/x.txt"), "%ED%95%9C%EA%B8%80/x.txt");
        assert_eq!(url_encode("run books/"), "run+books/");
        assert_eq!(url_encode("a*b-c_d.e~f"), "a*b-c_d.e%7Ef");
        assert_eq!(url_encode("é\u{1}"), "%C3%A9%01");
        assert_eq!(url_encode(""), "");
    }

    proptest::proptest! {
        /// Form decoding, as clients apply it, gives back the key.
        #[test]
        fn url_encoding_round_trips(text in ".{0,64}") {
            let encoded = url_encode(&text).replace('+', " ");
            let decoded = percent_encoding::percent_decode_str(&encoded).decode_utf8().unwrap();
            proptest::prop_assert_eq!(decoded, text.as_str());
        }
    }

    #[test]
    fn etags() {
        assert_eq!(quote_etag("abc"), "\"abc\"");
        assert_eq!(quote_etag("\"abc\""), "\"abc\"");
        assert_eq!(quote_etag("\""), "\"\"\"");
        assert_eq!(unquote_etag("\"abc\""), "abc");
        assert_eq!(unquote_etag("abc"), "abc");
        assert_eq!(unquote_etag("\"abc"), "\"abc");
    }
}
