//! Tables of DML statements and queries that sqlparser rejected, by a scan of their tokens: the
//! names after FROM, JOIN, INTO, UPDATE, USING and TABLE and the targets of INSERT/REPLACE, each
//! with its alias, column aliases, index hints and TABLESAMPLE skipped and comma lists followed
//! (also after a derived table). CTE names and table functions are not tables; `FROM` inside a
//! function call (`extract(year from d)`) and `IS DISTINCT FROM` introduce none.

use super::tokens::{ident_at, name_at, sorted_contains, Cursor, Tok};

/// Words that continue a FROM clause and so cannot be a table alias.
const CLAUSE_WORDS: &[&str] = &[
    "as",
    "connect",
    "cross",
    "do",
    "except",
    "fetch",
    "for",
    "force",
    "from",
    "full",
    "group",
    "having",
    "ignore",
    "inner",
    "intersect",
    "into",
    "join",
    "lateral",
    "left",
    "limit",
    "lock",
    "natural",
    "offset",
    "on",
    "order",
    "outer",
    "partition",
    "qualify",
    "returning",
    "right",
    "select",
    "set",
    "straight_join",
    "tablesample",
    "then",
    "union",
    "use",
    "using",
    "values",
    "when",
    "where",
    "window",
    "with",
];

/// Words that may precede `(` without making it a function call's argument list.
const NOT_CALLS: &[&str] = &[
    "all",
    "and",
    "any",
    "array",
    "as",
    "between",
    "by",
    "else",
    "except",
    "exists",
    "from",
    "having",
    "in",
    "intersect",
    "into",
    "is",
    "join",
    "lateral",
    "like",
    "not",
    "on",
    "or",
    "over",
    "returning",
    "select",
    "set",
    "some",
    "table",
    "then",
    "union",
    "using",
    "values",
    "when",
    "where",
    "window",
    "with",
];

/// Names defined by WITH lists (`name [(cols)] AS [NOT] [MATERIALIZED] (...)`) anywhere.
fn cte_names(c: &Cursor<'_>) -> Vec<String> {
    let mut names = Vec::new();
    for (k, t) in c.toks.iter().enumerate() {
        if !matches!(t, Tok::Word(w) if w == "with") {
            continue;
        }
        let mut j = k + 1;
        if c.word_at(j) == Some("recursive") {
            j += 1;
        }
        while let Some(n) = ident_at(&c.toks, j) {
            j += 1;
            if c.tok(j) == Some(&Tok::Punct('(')) {
                j = c.group_end(j);
            }
            if c.word_at(j) != Some("as") {
                break;
            }
            j += 1;
            if c.word_at(j) == Some("not") {
                j += 1;
            }
            if c.word_at(j) == Some("materialized") {
                j += 1;
            }
            if c.tok(j) != Some(&Tok::Punct('(')) {
                break;
            }
            names.push(n);
            j = c.group_end(j);
            if c.tok(j) != Some(&Tok::Punct(',')) {
                break;
            }
            j += 1;
        }
    }
    names
}

/// Paren roles in [`scan_relations`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Paren {
    /// A function call's arguments: `FROM` inside is part of the call (`extract(x from y)`).
    Call,
    /// A derived table or parenthesised join in a FROM list; the list may go on after it.
    FromItem,
    Other,
}

/// Tables of a DML statement or query: the names after FROM, JOIN, INTO, UPDATE, USING (not
/// `USING (cols)`), TABLE, and leading INSERT/REPLACE targets; not CTE names or table functions.
pub(super) fn scan_relations(c: &Cursor<'_>) -> Vec<String> {
    let ctes = cte_names(c);
    let mut out = Vec::new();
    let mut stack: Vec<Paren> = Vec::new();
    let mut k = 0;
    while let Some(t) = c.tok(k) {
        match t {
            Tok::Punct('(') => {
                let call = match c.tok(k.wrapping_sub(1)) {
                    Some(Tok::Word(w)) => !sorted_contains(NOT_CALLS, w),
                    Some(Tok::Quoted(_)) => true,
                    _ => false,
                };
                stack.push(if call { Paren::Call } else { Paren::Other });
                k += 1;
            }
            Tok::Punct(')') => {
                k += 1;
                if stack.pop() == Some(Paren::FromItem) {
                    k = item_tail(c, k);
                    if c.tok(k) == Some(&Tok::Punct(',')) {
                        k = from_list(c, k + 1, false, &ctes, &mut out, &mut stack);
                    }
                }
            }
            Tok::Word(w) => {
                let in_call = stack.last() == Some(&Paren::Call);
                let prev = c.tok(k.wrapping_sub(1));
                let at_start = matches!(prev, None | Some(Tok::Punct('(' | ')' | ';')));
                let intro = match w.as_str() {
                    "from" => !in_call && prev != Some(&Tok::Word("distinct".to_string())),
                    "join" => true,
                    // MySQL `STRAIGHT_JOIN` joins, except as a SELECT modifier.
                    "straight_join" => !matches!(
                        c.word_at(k.wrapping_sub(1)),
                        Some(
                            "select"
                                | "all"
                                | "distinct"
                                | "distinctrow"
                                | "high_priority"
                                | "sql_small_result"
                                | "sql_big_result"
                                | "sql_buffer_result"
                                | "sql_no_cache"
                                | "sql_calc_found_rows"
                        )
                    ),
                    "into" => {
                        !in_call
                            && !matches!(c.word_at(k + 1), Some("outfile" | "dumpfile"))
                            && !c.word_at(k + 1).is_some_and(|n| n.starts_with('@'))
                    }
                    "update" => at_start,
                    "insert" | "replace" => at_start && c.word_at(k + 1) != Some("into"),
                    "using" => c.tok(k + 1) != Some(&Tok::Punct('(')),
                    "table" => at_start,
                    _ => false,
                };
                k += 1;
                if intro {
                    // After INTO, INSERT and REPLACE a `(` is the column list, not a call.
                    let target = matches!(w.as_str(), "into" | "insert" | "replace");
                    k = from_list(c, k, target, &ctes, &mut out, &mut stack);
                }
            }
            _ => k += 1,
        }
    }
    out.retain(|n| n != "dual");
    out
}

/// Reads a list of relations starting at token `k`; returns where scanning resumes. A `(`
/// item is left for the caller's scan (its contents are scanned too) and marked so that the
/// list resumes after its `)`.
fn from_list(
    c: &Cursor<'_>,
    mut k: usize,
    target: bool,
    ctes: &[String],
    out: &mut Vec<String>,
    stack: &mut Vec<Paren>,
) -> usize {
    loop {
        while matches!(
            c.word_at(k),
            Some(
                "only"
                    | "lateral"
                    | "low_priority"
                    | "quick"
                    | "ignore"
                    | "delayed"
                    | "high_priority"
                    | "into"
                    | "table"
                    | "temp"
                    | "temporary"
                    | "unlogged"
            )
        ) {
            k += 1;
        }
        if c.tok(k) == Some(&Tok::Punct('(')) {
            stack.push(Paren::FromItem);
            return k + 1;
        }
        let Some((name, next)) = name_at(&c.toks, k) else {
            return k;
        };
        k = next;
        if !target && c.tok(k) == Some(&Tok::Punct('(')) {
            // A table function: its arguments are scanned by the caller.
            return k;
        }
        if !ctes.contains(&name) {
            out.push(name);
        }
        if c.tok(k) == Some(&Tok::Punct('*')) {
            k += 1;
        }
        k = item_tail(c, k);
        if c.tok(k) != Some(&Tok::Punct(',')) {
            return k;
        }
        k += 1;
    }
}

/// Skips what may follow a relation in a FROM list: alias, column aliases, MySQL PARTITION
/// (...) and index hints, TABLESAMPLE.
fn item_tail(c: &Cursor<'_>, mut k: usize) -> usize {
    // One alias at most: a second unknown word is not part of this item.
    let mut aliased = false;
    loop {
        match c.tok(k) {
            Some(Tok::Word(w)) if w == "partition" && c.tok(k + 1) == Some(&Tok::Punct('(')) => {
                k = c.group_end(k + 1);
            }
            Some(Tok::Word(w))
                if matches!(w.as_str(), "use" | "force" | "ignore")
                    && matches!(c.word_at(k + 1), Some("index" | "key")) =>
            {
                k += 2;
                while c.tok(k).is_some() && c.tok(k) != Some(&Tok::Punct('(')) {
                    k += 1;
                }
                k = c.group_end(k);
            }
            Some(Tok::Word(w)) if w == "tablesample" => {
                k += 2;
                if c.tok(k) == Some(&Tok::Punct('(')) {
                    k = c.group_end(k);
                }
                if c.word_at(k) == Some("repeatable") && c.tok(k + 1) == Some(&Tok::Punct('(')) {
                    k = c.group_end(k + 1);
                }
            }
            Some(Tok::Word(w)) if w == "as" && !aliased => k += 1,
            Some(Tok::Word(w))
                if !aliased && !sorted_contains(CLAUSE_WORDS, w) && !w.starts_with('@') =>
            {
                aliased = true;
                k += 1;
            }
            Some(Tok::Quoted(_)) if !aliased => {
                aliased = true;
                k += 1;
            }
            // Column list of an INSERT target, or column aliases after an alias.
            Some(Tok::Punct('('))
                if matches!(
                    c.tok(k.wrapping_sub(1)),
                    Some(Tok::Word(_) | Tok::Quoted(_))
                ) =>
            {
                k = c.group_end(k);
            }
            _ => return k,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn word_lists_are_sorted() {
        for list in [CLAUSE_WORDS, NOT_CALLS] {
            let mut sorted = list.to_vec();
            sorted.sort_unstable();
            assert_eq!(sorted, list);
        }
    }

    #[test]
    fn relations_of_queries_and_dml() {
        for (text, tables) in [
            ("select * from a, b x, (select 1 from c) d, e", &["a", "b", "c", "e"][..]),
            (
                "select extract(year from d), substring(s from ?) from t where x is distinct from y",
                &["t"],
            ),
            (
                "with w as (select 1 from a), v (n) as not materialized (select 2) select * from w, v, b",
                &["a", "b"],
            ),
            (
                "select * from only t1 tablesample bernoulli(?) repeatable(?) join lateral f(t1.x) g on true",
                &["t1"],
            ),
            (
                "select * from t1 use index (i) left join t2 force index for join (j) using (id)",
                &["t1", "t2"],
            ),
            (
                "insert into t(a, b) select a, b from s on conflict (a) do update set b = excluded.b",
                &["s", "t"],
            ),
            ("insert ignore t1 set a = ?", &["t1"]),
            ("replace t2 (a) values (?)", &["t2"]),
            ("update t1, t2 set t1.a = t2.a", &["t1", "t2"]),
            ("delete t1 from t1 join t2 on t1.id = t2.id", &["t1", "t2"]),
            (
                "merge into tgt t using src s on t.id = s.id when matched then update set v = s.v",
                &["src", "tgt"],
            ),
            ("select a into @x from t1 for update of t1", &["t1"]),
            ("select * from t into outfile ?", &["t"]),
            ("select * into table t2 from t1", &["t1", "t2"]),
            ("select straight_join * from t1 straight_join t2", &["t1", "t2"]),
            ("table s.t", &["s.t"]),
            ("select 1 from dual", &[]),
            ("select generate_series(?, ?)", &[]),
        ] {
            let mut got = scan_relations(&Cursor::new(text));
            got.sort();
            assert_eq!(got, tables, "{text}");
        }
    }
}
