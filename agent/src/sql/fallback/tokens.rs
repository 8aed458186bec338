//! Tokens of a normalised statement (words, quoted identifiers, punctuation, each with its byte
//! offset) and a cursor over them with the small parsing steps the fallback rules share: names
//! (`a.b.c`, quoted parts), name lists, option groups, and searches at parenthesis depth 0.

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Tok {
    /// Unquoted word (already lower-cased by normalisation).
    Word(String),
    /// Quoted identifier, quotes removed.
    Quoted(String),
    Punct(char),
}

/// Tokens of one normalised statement (words, quoted identifiers and single characters), each
/// with its byte offset in the statement.
pub(super) fn lex(text: &str) -> (Vec<Tok>, Vec<usize>) {
    let mut out = Vec::new();
    let mut offs = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        offs.push(at);
        if c == '"' || c == '`' {
            let mut value = String::new();
            while let Some((_, d)) = chars.next() {
                if d == c {
                    if chars.peek().is_some_and(|&(_, e)| e == c) {
                        chars.next();
                        value.push(c);
                        continue;
                    }
                    break;
                }
                value.push(d);
            }
            out.push(Tok::Quoted(value));
        } else if c.is_alphanumeric() || c == '_' || c == '@' {
            let mut w = String::from(c);
            while let Some(&(_, d)) = chars.peek() {
                if d.is_alphanumeric() || d == '_' || d == '$' {
                    w.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(Tok::Word(w));
        } else {
            out.push(Tok::Punct(c));
        }
    }
    (out, offs)
}

/// Words skipped before a table name in the simple command forms handled here.
const SKIPPED: &[&str] = &[
    "analyze",
    "binary",
    "concurrently",
    "delayed",
    "disable_page_skipping",
    "exists",
    "foreign",
    "freeze",
    "from",
    "full",
    "high_priority",
    "if",
    "ignore",
    "into",
    "local",
    "low_priority",
    "materialized",
    "no_write_to_binlog",
    "not",
    "offline",
    "online",
    "only",
    "quick",
    "skip_locked",
    "table",
    "tables",
    "temp",
    "temporary",
    "unlogged",
    "verbose",
    "view",
];

/// Keywords that end a name list rather than being a table name (unquoted).
const NOT_NAMES: &[&str] = &[
    "as",
    "default",
    "from",
    "in",
    "on",
    "partition",
    "select",
    "set",
    "to",
    "using",
    "values",
    "where",
    "with",
];

pub(super) fn sorted_contains(list: &[&str], w: &str) -> bool {
    list.binary_search(&w).is_ok()
}

/// The identifier at token `k`: a quoted name, or a word that can be a name.
pub(super) fn ident_at(toks: &[Tok], k: usize) -> Option<String> {
    match toks.get(k)? {
        Tok::Word(w)
            if w.starts_with(|c: char| c.is_alphabetic() || c == '_')
                && !sorted_contains(NOT_NAMES, w) =>
        {
            Some(w.clone())
        }
        Tok::Quoted(q) => Some(q.clone()),
        _ => None,
    }
}

/// `ident(.ident)*` at token `k`, and the index after it. `db.*` is not a name.
pub(super) fn name_at(toks: &[Tok], mut k: usize) -> Option<(String, usize)> {
    let mut name = ident_at(toks, k)?;
    k += 1;
    while toks.get(k) == Some(&Tok::Punct('.')) {
        name.push('.');
        name.push_str(&ident_at(toks, k + 1)?);
        k += 2;
    }
    Some((name, k))
}

/// A statement's tokens with a position, and where each parenthesised group ends.
pub(super) struct Cursor<'a> {
    pub(super) text: &'a str,
    pub(super) toks: Vec<Tok>,
    /// Byte offset of each token in `text`.
    offs: Vec<usize>,
    /// For each token: the index after its group when it is `(` (the end of the text when the
    /// group is not closed), else the next index.
    ends: Vec<usize>,
    pub(super) pos: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        let (toks, offs) = lex(text);
        let mut ends: Vec<usize> = (1..=toks.len()).collect();
        let mut open = Vec::new();
        for (k, t) in toks.iter().enumerate() {
            match t {
                Tok::Punct('(') => open.push(k),
                Tok::Punct(')') => {
                    if let Some(j) = open.pop() {
                        if let Some(e) = ends.get_mut(j) {
                            *e = k + 1;
                        }
                    }
                }
                _ => {}
            }
        }
        for j in open {
            if let Some(e) = ends.get_mut(j) {
                *e = toks.len();
            }
        }
        Cursor {
            text,
            toks,
            offs,
            ends,
            pos: 0,
        }
    }

    pub(super) fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    pub(super) fn tok(&self, i: usize) -> Option<&Tok> {
        self.toks.get(i)
    }

    pub(super) fn word_at(&self, i: usize) -> Option<&str> {
        match self.toks.get(i) {
            Some(Tok::Word(w)) => Some(w.as_str()),
            _ => None,
        }
    }

    pub(super) fn is_word(&self, w: &str) -> bool {
        self.word_at(self.pos) == Some(w)
    }

    pub(super) fn is_punct(&self, c: char) -> bool {
        self.peek() == Some(&Tok::Punct(c))
    }

    /// Moves past `w` when it is next.
    pub(super) fn eat(&mut self, w: &str) -> bool {
        let hit = self.is_word(w);
        if hit {
            self.pos += 1;
        }
        hit
    }

    /// The statement text from token `i` on (empty past the end).
    pub(super) fn rest_from(&self, i: usize) -> &'a str {
        self.offs
            .get(i)
            .and_then(|&o| self.text.get(o..))
            .unwrap_or("")
    }

    /// The statement text of tokens `[i, j)`.
    pub(super) fn slice(&self, i: usize, j: usize) -> &'a str {
        let a = self.offs.get(i).copied().unwrap_or(self.text.len());
        let b = self.offs.get(j).copied().unwrap_or(self.text.len());
        self.text.get(a..b.max(a)).unwrap_or("")
    }

    /// Index of the token after the balanced group opened at `i` (`i + 1` when token `i` is not
    /// `(`).
    pub(super) fn group_end(&self, i: usize) -> usize {
        self.ends.get(i).copied().unwrap_or(i + 1)
    }

    /// Skips a balanced parenthesised group when one starts here.
    pub(super) fn skip_parens(&mut self) {
        if self.is_punct('(') {
            self.pos = self.group_end(self.pos);
        }
    }

    /// Skips [`SKIPPED`] words and option lists in parentheses.
    pub(super) fn skip_modifiers(&mut self) {
        loop {
            match self.peek() {
                Some(Tok::Word(w)) if sorted_contains(SKIPPED, w) => self.pos += 1,
                Some(Tok::Punct('(')) => self.skip_parens(),
                _ => return,
            }
        }
    }

    /// `ident(.ident)*`
    pub(super) fn name(&mut self) -> Option<String> {
        let (name, next) = name_at(&self.toks, self.pos)?;
        self.pos = next;
        Some(name)
    }

    /// `name [*] [(...)] [, name ...]`
    pub(super) fn name_list(&mut self) -> Vec<String> {
        let mut names = Vec::new();
        while let Some(n) = self.name() {
            names.push(n);
            if self.is_punct('*') {
                self.pos += 1;
            }
            self.skip_parens();
            if !self.is_punct(',') {
                break;
            }
            self.pos += 1;
        }
        names
    }

    /// Index of the first `w` at parenthesis depth 0 from the cursor on.
    pub(super) fn find_top(&self, w: &str) -> Option<usize> {
        let mut depth = 0usize;
        for (k, t) in self.toks.iter().enumerate().skip(self.pos) {
            match t {
                Tok::Punct('(') => depth += 1,
                Tok::Punct(')') => depth = depth.saturating_sub(1),
                Tok::Word(x) if depth == 0 && x == w => return Some(k),
                _ => {}
            }
        }
        None
    }

    /// Moves past the first `w` word outside parentheses; false when there is none.
    pub(super) fn past_top(&mut self, w: &str) -> bool {
        match self.find_top(w) {
            Some(k) => {
                self.pos = k + 1;
                true
            }
            None => {
                self.pos = self.toks.len();
                false
            }
        }
    }

    /// Moves past the first `on` word outside parentheses; false when there is none.
    pub(super) fn past_on(&mut self) -> bool {
        self.past_top("on")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn word_lists_are_sorted() {
        for list in [SKIPPED, NOT_NAMES] {
            let mut sorted = list.to_vec();
            sorted.sort_unstable();
            assert_eq!(sorted, list);
        }
    }

    #[test]
    fn tokens_names_and_groups() {
        let c = Cursor::new("select \"A b\".c, `x`(?) from s.t");
        assert_eq!(c.word_at(0), Some("select"));
        assert_eq!(c.tok(1), Some(&Tok::Quoted("A b".to_string())));
        assert_eq!(name_at(&c.toks, 1), Some(("A b.c".to_string(), 4)));
        assert_eq!(c.group_end(6), 9);
        assert_eq!(c.group_end(0), 1);
        assert_eq!(c.rest_from(9), "from s.t");
        assert_eq!(c.slice(6, 9), "(?) ");
        let c = Cursor::new("a (b (c)");
        assert_eq!(c.group_end(1), c.toks.len());
        assert_eq!(c.group_end(3), 6);
        assert_eq!(name_at(&Cursor::new("db.*").toks, 0), None);
    }
}
