//! MySQL text that sqlparser 0.59 does not take as sent: executable comments (`/*!40101 SET
//! NAMES utf8 */`) are SQL to the server but comments to sqlparser, so their markers are blanked
//! ([`mysql_unwrap`]); modifiers it rejects or misreads and that name no table or column
//! (`SQL_CALC_FOUND_ROWS`, `SQL_NO_CACHE`, ..., `WITH ROLLUP`) are blanked out
//! ([`mysql_relaxed`]). Both keep byte offsets, work on any text and never panic.

/// Byte ranges `[start, end)` of the unquoted words of `text`, leaving out quoted sections and
/// comments (MySQL rules: `'`, `"`, `` ` `` quotes with backslash escapes; `#`, `-- `, `/* */`
/// comments; `/*!` is not skipped, its content is SQL).
fn mysql_words(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let n = b.len();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let c = at(i);
        match c {
            b'\'' | b'"' | b'`' => {
                i += 1;
                while i < n {
                    let d = at(i);
                    if d == b'\\' && c != b'`' {
                        i += 2;
                        continue;
                    }
                    i += 1;
                    if d == c {
                        if at(i) == c {
                            i += 1;
                            continue;
                        }
                        break;
                    }
                }
            }
            b'#' => {
                while i < n && at(i) != b'\n' {
                    i += 1;
                }
            }
            b'-' if at(i + 1) == b'-' && (at(i + 2) <= b' ') => {
                while i < n && at(i) != b'\n' {
                    i += 1;
                }
            }
            b'/' if at(i + 1) == b'*' && at(i + 2) != b'!' => {
                i += 2;
                while i < n && !(at(i) == b'*' && at(i + 1) == b'/') {
                    i += 1;
                }
                i += 2;
            }
            _ if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < n && (at(i).is_ascii_alphanumeric() || at(i) == b'_' || at(i) == b'$') {
                    i += 1;
                }
                out.push((start, i));
            }
            _ if c.is_ascii_digit() => {
                while i < n && (at(i).is_ascii_alphanumeric() || at(i) == b'_') {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// Replaces the bytes of each range with spaces (ranges are on ASCII characters only).
fn blank(text: &str, ranges: &[(usize, usize)]) -> Option<String> {
    if ranges.is_empty() {
        return None;
    }
    let mut bytes = text.as_bytes().to_vec();
    for &(a, b) in ranges {
        for byte in bytes.get_mut(a..b).into_iter().flatten() {
            *byte = b' ';
        }
    }
    String::from_utf8(bytes).ok()
}

/// The text with each `--` comment whose dashes are followed by a line break, a tab or the end
/// of the text (a comment to MySQL, which wants whitespace or a control character after `--`)
/// rewritten as `# ` (same length), which sqlparser 0.59 reads as a comment: it takes only `-- `
/// with a space. `None` when there is none. Scripts of `--` banner lines fail to parse without
/// this.
pub(crate) fn mysql_dash_comments(text: &str) -> Option<String> {
    if !text.contains("--") {
        return None;
    }
    let b = text.as_bytes();
    let n = b.len();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let mut starts = Vec::new();
    let mut i = 0;
    while i < n {
        let c = at(i);
        match c {
            b'\'' | b'"' | b'`' => {
                i += 1;
                while i < n {
                    let d = at(i);
                    if d == b'\\' && c != b'`' {
                        i += 2;
                        continue;
                    }
                    i += 1;
                    if d == c {
                        if at(i) == c {
                            i += 1;
                            continue;
                        }
                        break;
                    }
                }
            }
            b'-' if at(i + 1) == b'-' && at(i + 2) <= b' ' => {
                if at(i + 2) != b' ' {
                    starts.push(i);
                }
                while i < n && at(i) != b'\n' {
                    i += 1;
                }
            }
            b'#' => {
                while i < n && at(i) != b'\n' {
                    i += 1;
                }
            }
            b'/' if at(i + 1) == b'*' && at(i + 2) != b'!' => {
                i += 2;
                while i < n && !(at(i) == b'*' && at(i + 1) == b'/') {
                    i += 1;
                }
                i += 2;
            }
            _ => i += 1,
        }
    }
    if starts.is_empty() {
        return None;
    }
    let mut bytes = b.to_vec();
    for s in starts {
        if let Some(pair) = bytes.get_mut(s..s + 2) {
            pair.copy_from_slice(b"# ");
        }
    }
    String::from_utf8(bytes).ok()
}

/// The text with MySQL executable-comment markers (`/*!`, `/*!40101`, and their `*/`) blanked;
/// `None` when it has none.
pub(crate) fn mysql_unwrap(text: &str) -> Option<String> {
    if !text.contains("/*!") {
        return None;
    }
    let b = text.as_bytes();
    let n = b.len();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let mut ranges = Vec::new();
    let mut in_exec = false;
    let mut i = 0;
    while i < n {
        let c = at(i);
        match c {
            b'\'' | b'"' | b'`' => {
                i += 1;
                while i < n {
                    let d = at(i);
                    if d == b'\\' && c != b'`' {
                        i += 2;
                        continue;
                    }
                    i += 1;
                    if d == c {
                        if at(i) == c {
                            i += 1;
                            continue;
                        }
                        break;
                    }
                }
            }
            b'/' if at(i + 1) == b'*' && at(i + 2) == b'!' && !in_exec => {
                let start = i;
                i += 3;
                while i < n && at(i).is_ascii_digit() {
                    i += 1;
                }
                ranges.push((start, i));
                in_exec = true;
            }
            b'/' if at(i + 1) == b'*' => {
                i += 2;
                while i < n && !(at(i) == b'*' && at(i + 1) == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'*' if at(i + 1) == b'/' && in_exec => {
                ranges.push((i, i + 2));
                in_exec = false;
                i += 2;
            }
            _ => i += 1,
        }
    }
    blank(text, &ranges)
}

/// Whether `hay` contains `needle` (lower-case ASCII), ignoring ASCII case.
fn contains_ignore_ascii_case(hay: &[u8], needle: &[u8]) -> bool {
    let Some(&first) = needle.first() else {
        return true;
    };
    hay.iter().enumerate().any(|(i, &c)| {
        c.to_ascii_lowercase() == first
            && hay
                .get(i..i + needle.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(needle))
    })
}

/// MySQL modifiers that sqlparser 0.59 rejects and that name no table or column.
const MYSQL_NOISE: &[&str] = &[
    "sql_big_result",
    "sql_buffer_result",
    "sql_cache",
    "sql_calc_found_rows",
    "sql_no_cache",
    "sql_small_result",
];

/// The text with [`MYSQL_NOISE`] words and `WITH ROLLUP` blanked; `None` when it has none.
pub(crate) fn mysql_relaxed(text: &str) -> Option<String> {
    // Cheap test first: every noise word starts with `sql_`, and ROLLUP is the other case.
    if !contains_ignore_ascii_case(text.as_bytes(), b"sql_")
        && !contains_ignore_ascii_case(text.as_bytes(), b"rollup")
    {
        return None;
    }
    let words = mysql_words(text);
    let word = |k: usize| {
        words
            .get(k)
            .and_then(|&(a, b)| text.get(a..b))
            .unwrap_or("")
    };
    let mut ranges = Vec::new();
    for (k, &range) in words.iter().enumerate() {
        let w = word(k);
        if MYSQL_NOISE.iter().any(|m| w.eq_ignore_ascii_case(m)) {
            ranges.push(range);
        } else if w.eq_ignore_ascii_case("rollup")
            && k >= 2
            && word(k - 1).eq_ignore_ascii_case("with")
            && !word(k + 1).eq_ignore_ascii_case("as")
        {
            let (a, _) = words.get(k - 1).copied().unwrap_or(range);
            // Only when nothing but blanks separates the two words.
            if text
                .get(a + 4..range.0)
                .is_some_and(|gap| gap.bytes().all(|c| c.is_ascii_whitespace()))
            {
                ranges.push((a, range.1));
            }
        }
    }
    blank(text, &ranges)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn noise_words_are_sorted() {
        let mut sorted = MYSQL_NOISE.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, MYSQL_NOISE);
    }

    #[test]
    fn case_insensitive_contains() {
        assert!(contains_ignore_ascii_case(b"SELECT SQL_NO_CACHE", b"sql_"));
        assert!(contains_ignore_ascii_case(b"with Rollup", b"rollup"));
        assert!(!contains_ignore_ascii_case(b"SELECT sq", b"sql_"));
        assert!(!contains_ignore_ascii_case(b"", b"sql_"));
    }

    #[test]
    fn rewrites_dash_comments_sqlparser_misses() {
        assert_eq!(
            mysql_dash_comments("--\n-- x\n--\tz\nSELECT '--\n', 1--\n").as_deref(),
            Some("# \n-- x\n# \tz\nSELECT '--\n', 1# \n")
        );
        assert_eq!(mysql_dash_comments("SELECT 1 -- done"), None);
        assert_eq!(mysql_dash_comments("SELECT 1--1"), None);
        assert_eq!(
            mysql_dash_comments("SELECT 1 --"),
            Some("SELECT 1 # ".to_string())
        );
        assert_eq!(mysql_dash_comments("/* --\n */ SELECT 1"), None);
    }

    #[test]
    fn unwraps_executable_comments() {
        assert_eq!(
            mysql_unwrap("/*!40101 SET NAMES utf8 */").as_deref(),
            Some("         SET NAMES utf8   ")
        );
        assert_eq!(mysql_unwrap("SELECT '/*!' FROM t"), None);
        assert_eq!(mysql_unwrap("SELECT 1"), None);
        let t = "SELECT '/*!' /* x */ /*! STRAIGHT_JOIN */ 1";
        assert_eq!(
            mysql_unwrap(t).as_deref(),
            Some("SELECT '/*!' /* x */     STRAIGHT_JOIN    1")
        );
    }

    #[test]
    fn relaxes_mysql_modifiers() {
        assert_eq!(
            mysql_relaxed("SELECT SQL_CALC_FOUND_ROWS id FROM t GROUP BY a WITH  ROLLUP")
                .as_deref(),
            Some("SELECT                     id FROM t GROUP BY a             ")
        );
        assert_eq!(mysql_relaxed("SELECT 'sql_no_cache' FROM t"), None);
        assert_eq!(mysql_relaxed("WITH rollup AS (SELECT 1) SELECT 1"), None);
    }
}
