//! Robustness properties of [`Analyzer::analyze`] and [`Analyzer::analyze_text`]: whatever the
//! bytes, neither panics, and the result keeps its invariants (a 16-hex-digit fingerprint, an
//! upper-case kind, no parser or walker panic caught internally). Inputs, from a fixed-seed PRNG:
//! random bytes, random UTF-8 text, soups of SQL tokens (quotes, comments, dollar quotes,
//! placeholders, executable comments, ...), and every statement of the corpora of
//! `corpus_tests` cut at every byte offset and with random bytes flipped. Bounded: a few seconds
//! in a debug build.

use super::{corpus_tests, Analyzed, Analyzer, AnalyzerConfig, Dialect, SqlError};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % (n.max(1) as u64)) as usize
    }

    fn byte(&mut self) -> u8 {
        (self.next() >> 32) as u8
    }
}

const DIALECTS: [Dialect; 2] = [Dialect::Postgres, Dialect::MySql];

/// Checks the invariants of one result.
fn check(a: &Analyzed, text: &str, failures: &mut Vec<String>) {
    let an = &a.analysis;
    let ok = an.fingerprint.len() == 16
        && an.fingerprint.bytes().all(|c| c.is_ascii_hexdigit())
        && an
            .kinds
            .iter()
            .all(|k| !k.bytes().any(|c| c.is_ascii_lowercase()))
        && an.kinds.first().map(String::as_str).unwrap_or("") == an.kind
        && an.parse_error.as_deref() != Some(&SqlError::Internal.to_string());
    if !ok && failures.len() < 20 {
        failures.push(format!("{text:?} -> {an:?}"));
    }
}

/// Runs `text` through both entry points of `an` in `dialect`.
fn exercise(an: &mut Analyzer, dialect: Dialect, text: &str, failures: &mut Vec<String>) {
    let a = an.analyze_text(dialect, text);
    check(&a, text, failures);
    let (b, _) = an.analyze(dialect, text);
    if b.fingerprint != a.analysis.fingerprint && failures.len() < 20 {
        failures.push(format!("{text:?}: analyze and analyze_text disagree"));
    }
}

fn assert_clean(what: &str, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{what}: {} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Analyzers used by the tests: default settings, and a small statement limit (so that the
/// prefix cut at a char boundary is exercised) with literals kept.
fn analyzers() -> [Analyzer; 2] {
    [
        Analyzer::new(AnalyzerConfig::default()),
        Analyzer::new(AnalyzerConfig {
            cache_entries: 64,
            max_statement_bytes: 48,
            keep_literals: true,
        }),
    ]
}

#[test]
fn random_bytes_and_text_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut ans = analyzers();
    let mut failures = Vec::new();
    let chars = [
        'a', 'Z', '0', ' ', '\n', '\'', '"', '`', '$', '(', ')', ';', '-', '/', '*', '#', '?',
        '\\', '.', ':', '@', 'é', 'ß', '€', '𝄞', '\u{0}', '\u{7f}', '\u{fffd}', 'İ',
    ];
    for i in 0..1500usize {
        let len = rng.below(200);
        let text = if i % 2 == 0 {
            let bytes: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            (0..len).map(|_| chars[rng.below(chars.len())]).collect()
        };
        for an in &mut ans {
            for d in DIALECTS {
                exercise(an, d, &text, &mut failures);
            }
        }
    }
    assert_clean("random bytes", &failures);
}

#[test]
fn token_soup_never_panics() {
    const TOKENS: &[&str] = &[
        "select",
        "SELECT",
        "from",
        "where",
        "insert",
        "into",
        "values",
        "update",
        "set",
        "delete",
        "with",
        "recursive",
        "as",
        "join",
        "on",
        "using",
        "group",
        "by",
        "order",
        "having",
        "union",
        "all",
        "create",
        "table",
        "drop",
        "alter",
        "index",
        "view",
        "truncate",
        "copy",
        "merge",
        "when",
        "matched",
        "then",
        "returning",
        "on conflict",
        "do",
        "nothing",
        "duplicate",
        "key",
        "begin",
        "commit",
        "explain",
        "lock",
        "grant",
        "show",
        "use",
        "vacuum",
        "refresh",
        "like",
        "t",
        "u.id",
        "a.b.c",
        "\"Q\"",
        "`b`",
        "*",
        "t.*",
        "(",
        ")",
        "(",
        ")",
        ",",
        ",",
        ";",
        ".",
        "=",
        "<>",
        "+",
        "-",
        "||",
        "->>",
        "::",
        "::int",
        "'s'",
        "'it''s'",
        "E'\\''",
        "$$x$$",
        "$t$",
        "$1",
        "?",
        "1",
        "1.5e3",
        "0x1F",
        "x'ff'",
        "--",
        "/*",
        "*/",
        "/*!40101",
        "#",
        "@v",
        "@@x",
        "U&'",
        "\\",
        "null",
        "true",
        "count(*)",
        "values(a)",
        "match(a)",
        "against",
        "interval '1 day'",
        "case",
        "end",
        "over",
        "window",
        "partition",
        "lateral",
        "exists",
        "in",
        "not",
        "and",
        "or",
        "é",
        "\u{0}",
    ];
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let mut ans = analyzers();
    let mut failures = Vec::new();
    for _ in 0..2500usize {
        let n = 1 + rng.below(40);
        let mut text = String::new();
        for _ in 0..n {
            text.push_str(TOKENS[rng.below(TOKENS.len())]);
            if rng.below(4) != 0 {
                text.push(' ');
            }
        }
        let an = &mut ans[rng.below(2)];
        for d in DIALECTS {
            exercise(an, d, &text, &mut failures);
        }
    }
    assert_clean("token soup", &failures);
}

#[test]
fn truncated_and_corrupted_corpus_never_panics() {
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    let mut an = Analyzer::new(AnalyzerConfig::default());
    let mut failures = Vec::new();
    let statements = corpus_tests::statements();
    assert!(statements.len() > 300);
    for (own, sql) in &statements {
        let other = match own {
            Dialect::Postgres => Dialect::MySql,
            Dialect::MySql => Dialect::Postgres,
        };
        let bytes = sql.as_bytes();
        // Every prefix, in the statement's own dialect; every 7th also in the other one.
        for cut in 0..=bytes.len() {
            let text = String::from_utf8_lossy(bytes.get(..cut).unwrap_or_default());
            let a = an.analyze_text(*own, &text);
            check(&a, &text, &mut failures);
            if cut % 7 == 0 {
                let a = an.analyze_text(other, &text);
                check(&a, &text, &mut failures);
            }
        }
        // Random bytes flipped: 1 to 3 positions, a few variants per statement.
        for _ in 0..6 {
            let mut b = bytes.to_vec();
            for _ in 0..=rng.below(3) {
                let i = rng.below(b.len());
                if let Some(x) = b.get_mut(i) {
                    *x = rng.byte();
                }
            }
            let text = String::from_utf8_lossy(&b);
            for d in DIALECTS {
                exercise(&mut an, d, &text, &mut failures);
            }
        }
    }
    assert_clean("truncated/corrupted corpus", &failures);
}
