//! Application tags from sqlcommenter comments
//! (`/*action='list',framework='django',traceparent='00-...-...-01'*/`, at the start or the
//! end of a statement): keys and values URL-encoded, values in single quotes, pairs separated
//! by commas. Pure. A comment that does not follow the format (unterminated, bad
//! percent-encoding, too long, too many pairs) gives no tags: the statement is judged all the
//! same.
use std::collections::BTreeMap;

/// At most this many bytes of comment are read for tags.
pub const MAX_COMMENT_BYTES: usize = 4096;
/// At most this many pairs.
pub const MAX_TAGS: usize = 32;

/// The sqlcommenter keys kept by default (`tag_keys` in the configuration replaces the list).
pub const DEFAULT_KEYS: &[&str] = &[
    "action",
    "application",
    "controller",
    "db_driver",
    "framework",
    "route",
    "traceparent",
    "tracestate",
];

/// Tags of one statement, every key found (the judge keeps the allowed ones).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tags(pub BTreeMap<String, String>);

/// The W3C trace context of a `traceparent` value: `(trace_id, span_id)`.
pub fn trace_context(traceparent: &str) -> Option<(String, String)> {
    let mut parts = traceparent.split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    if !hex(version, 2) || version == "ff" || !hex(trace, 32) || !hex(span, 16) || !hex(flags, 2) {
        return None;
    }
    if version == "00" && parts.next().is_some() {
        return None;
    }
    if trace.bytes().all(|b| b == b'0') || span.bytes().all(|b| b == b'0') {
        return None;
    }
    Some((trace.to_owned(), span.to_owned()))
}

/// The tags of the sqlcommenter comment at the start or the end of `text` (`comments`: the
/// comment spans the scanner found, in order).
pub fn from_comments(text: &str, comments: &[(usize, usize)]) -> Tags {
    let blank = |s: &str| s.chars().all(|c| c.is_whitespace() || c == ';');
    let first = comments
        .first()
        .filter(|(a, _)| text.get(..*a).is_some_and(blank));
    let last = comments
        .last()
        .filter(|(_, b)| text.get(*b..).is_some_and(blank));
    for (a, b) in first.into_iter().chain(last) {
        if let Some(t) = text.get(*a..*b).and_then(parse_comment) {
            return Tags(t);
        }
    }
    Tags::default()
}

/// Parses one `/* ... */` comment as sqlcommenter pairs; `None` when it is not one.
pub fn parse_comment(comment: &str) -> Option<BTreeMap<String, String>> {
    if comment.len() > MAX_COMMENT_BYTES {
        return None;
    }
    let body = comment.strip_prefix("/*")?.strip_suffix("*/")?.trim();
    if body.is_empty() {
        return None;
    }
    let b = body.as_bytes();
    let mut out = BTreeMap::new();
    let mut i = 0;
    while i < b.len() {
        // key=
        let eq = body.get(i..)?.find('=')? + i;
        let key = decode(body.get(i..eq)?.trim())?;
        if key.is_empty() {
            return None;
        }
        // 'value' with \' escapes
        let mut j = eq + 1;
        if b.get(j) != Some(&b'\'') {
            return None;
        }
        j += 1;
        let start = j;
        loop {
            match b.get(j)? {
                // An escaped quote: this pair and the rest go the slow way.
                b'\\' if b.get(j + 1) == Some(&b'\'') => return parse_escaped(body, i, out),
                b'\'' => break,
                _ => j += 1,
            }
        }
        let value = decode(body.get(start..j)?)?;
        out.insert(key, value);
        if out.len() > MAX_TAGS {
            return None;
        }
        j += 1;
        // , or end
        while b.get(j).is_some_and(|c| c.is_ascii_whitespace()) {
            j += 1;
        }
        match b.get(j) {
            None => break,
            Some(b',') => i = j + 1,
            Some(_) => return None,
        }
    }
    Some(out)
}

/// The slow path for values with `\'` escapes: a character-wise parse from pair `i` on.
fn parse_escaped(
    body: &str,
    i: usize,
    mut out: BTreeMap<String, String>,
) -> Option<BTreeMap<String, String>> {
    let mut chars = body.get(i..)?.chars().peekable();
    loop {
        let mut key = String::new();
        for c in chars.by_ref() {
            if c == '=' {
                break;
            }
            key.push(c);
        }
        let key = decode(key.trim())?;
        if key.is_empty() || chars.next() != Some('\'') {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()? {
                '\\' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    value.push('\'');
                }
                '\'' => break,
                c => value.push(c),
            }
        }
        out.insert(key, decode(&value)?);
        if out.len() > MAX_TAGS {
            return None;
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None => return Some(out),
            Some(',') => {}
            Some(_) => return None,
        }
    }
}

/// Percent-decoding that refuses what is not well-formed (`%` without two hex digits, bytes
/// that are not UTF-8).
fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    for (k, &c) in b.iter().enumerate() {
        if c == b'%'
            && !(b.get(k + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(k + 2).is_some_and(u8::is_ascii_hexdigit))
        {
            return None;
        }
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(text: &str) -> BTreeMap<String, String> {
        let mut s = crate::sql::normalize::Scanned::default();
        crate::sql::normalize::scan_into(crate::sql::Dialect::Postgres, text, &mut s);
        from_comments(text, &s.comments).0
    }

    #[test]
    fn sqlcommenter_comments_at_either_end() {
        let t = tags("SELECT * FROM t /*action='list%20all',framework='django%3A4.2',traceparent='00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'*/;");
        assert_eq!(t["action"], "list all");
        assert_eq!(t["framework"], "django:4.2");
        assert_eq!(
            trace_context(&t["traceparent"]),
            Some((
                "0af7651916cd43dd8448eb211c80319c".into(),
                "b7ad6b7169203331".into()
            ))
        );
        let t = tags("/* route='/api/x', db_driver='psycopg' */ SELECT 1");
        assert_eq!(t.len(), 2);
        assert_eq!(t["route"], "/api/x");
        let t = tags("/*a='it\\'s',b='x'*/ SELECT 1");
        assert_eq!(t["a"], "it's");
        assert_eq!(t["b"], "x");
        // In the middle: not sqlcommenter.
        assert!(tags("SELECT /*action='x'*/ 1").is_empty());
    }

    #[test]
    fn malformed_comments_give_no_tags() {
        for text in [
            "SELECT 1 /*action='x'",                 // unterminated
            "SELECT 1 /*action='%zz'*/",             // bad percent-encoding
            "SELECT 1 /*action='%ff%fe'*/",          // not UTF-8
            "SELECT 1 /*action=x*/",                 // unquoted
            "SELECT 1 /*action='x' framework='y'*/", // no comma
            "SELECT 1 /*just a comment*/",
            "SELECT 1 /**/",
        ] {
            assert!(tags(text).is_empty(), "{text}");
        }
        let long = format!("SELECT 1 /*action='{}'*/", "x".repeat(1 << 20));
        assert!(tags(&long).is_empty());
        let many: Vec<String> = (0..40).map(|i| format!("k{i}='v'")).collect();
        assert!(tags(&format!("SELECT 1 /*{}*/", many.join(","))).is_empty());
        for bad in [
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
        ] {
            assert_eq!(trace_context(bad), None, "{bad}");
        }
    }
}
