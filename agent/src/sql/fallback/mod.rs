//! Text-level help around sqlparser, for statements it does not take as sent.
//!
//! - [`mysql_unwrap`], [`mysql_dash_comments`], [`mysql_relaxed`] (in `mysql`): MySQL text
//!   rewritten before parsing.
//! - [`recover`]: when a text still does not parse (or is too long or deep to parse), the kind
//!   and tables of each statement come from its normalised text. Statements are split at `;`,
//!   except inside the bodies of stored programs, triggers, events and rules. A statement of a
//!   multi-statement text that parses on its own is analysed by sqlparser. Otherwise
//!   `scan` reads DML and queries from their FROM/JOIN/INTO/UPDATE/USING lists (leaving out CTE
//!   names and table functions), and `commands` reads other statements at the places their
//!   forms name tables (`VACUUM t`, `CLUSTER t USING i`, `CREATE TABLE p PARTITION OF t`, `ALTER
//!   TABLE t ATTACH PARTITION p`, `CREATE TRIGGER ... ON t`, `COMMENT ON COLUMN t.c`, `GRANT ...
//!   ON t`, `LOAD DATA ... INTO TABLE t`, `HANDLER t`, ...). Statements carried by statements
//!   (`CREATE VIEW v AS ...`, `EXPLAIN ...`, `PREPARE p AS ...`, CREATE SCHEMA elements) are
//!   given to sqlparser when they parse, and to the rules otherwise. Bodies name no table: quoted
//!   and dollar-quoted ones are literals in the normalised text, and BEGIN ... END bodies of
//!   CREATE PROCEDURE/FUNCTION/TRIGGER/EVENT are not read.
//!
//! Files: `mysql` (the MySQL rewrites), `tokens` (tokens and the cursor the rules share), `scan`
//! (tables of DML and queries), `commands` (tables of other statements); this file splits texts
//! into statements and chooses between sqlparser and the rules. Everything here works on any
//! text and never panics.

mod commands;
mod mysql;
mod scan;
mod tokens;

pub(crate) use mysql::{mysql_dash_comments, mysql_relaxed, mysql_unwrap};

use super::{resolve, Dialect};
use commands::statement_tables;
use tokens::{Cursor, Tok};

/// How deeply statements carried by statements are followed (`EXPLAIN PREPARE p AS ...`).
const MAX_DEPTH: u8 = 4;

/// What the rules may do for one text.
#[derive(Clone, Copy, Debug)]
struct Ctx {
    dialect: Dialect,
    /// Whether embedded statements may be given to sqlparser (not for texts too long or too
    /// deep to parse).
    parse: bool,
    /// Statements followed so far to get here.
    depth: u8,
}

impl Ctx {
    #[cfg(test)]
    fn rules_only(dialect: Dialect) -> Ctx {
        Ctx {
            dialect,
            parse: false,
            depth: 0,
        }
    }
}

/// What the fallback found for a text sqlparser rejected.
#[derive(Debug, Default)]
pub(crate) struct Recovered {
    /// Kind of every statement, in order.
    pub kinds: Vec<String>,
    /// Tables of all statements.
    pub tables: std::collections::BTreeSet<String>,
}

/// Kind and tables of every statement of a normalised text that sqlparser rejected as a whole.
/// Statements are split at `;` outside BEGIN ... END blocks (stored program bodies). With
/// `parse`, each statement of a multi-statement text is first tried with sqlparser on its own,
/// and embedded queries (of views, CREATE TABLE AS, EXPLAIN, ...) are parsed where possible;
/// without it (texts too long or too deep to parse) everything comes from the keyword rules.
pub(crate) fn recover(dialect: Dialect, normalized: &str, parse: bool) -> Recovered {
    let pieces = split_statements(normalized);
    let mut out = Recovered::default();
    for piece in &pieces {
        if parse && pieces.len() > 1 {
            if let Some((kind, tables)) = parse_one(dialect, piece) {
                out.kinds.push(kind);
                out.tables.extend(tables);
                continue;
            }
        }
        let kind = resolve::kind_from_text(piece);
        let cx = Ctx {
            dialect,
            parse,
            depth: 0,
        };
        out.tables.extend(statement_tables(cx, &kind, piece));
        out.kinds.push(kind);
    }
    out
}

/// Kind and tables of one statement text when sqlparser takes it as exactly one statement.
fn parse_one(dialect: Dialect, text: &str) -> Option<(String, Vec<String>)> {
    match super::parse_and_walk(dialect, text) {
        Ok(p) if p.count == 1 => {
            let kind = p.kinds.into_iter().next()?;
            Some((kind, p.collected.tables.into_iter().collect()))
        }
        _ => None,
    }
}

/// Tables of a statement embedded in another one: parsed when possible, else by the rules.
/// Nesting deeper than [`MAX_DEPTH`] (`EXPLAIN EXPLAIN ...`) is not followed.
fn any_tables(cx: Ctx, text: &str) -> Vec<String> {
    if cx.depth >= MAX_DEPTH {
        return Vec::new();
    }
    let cx = Ctx {
        depth: cx.depth + 1,
        ..cx
    };
    if cx.parse {
        if let Some((_, tables)) = parse_one(cx.dialect, text) {
            return tables;
        }
    }
    let kind = resolve::kind_from_text(text);
    statement_tables(cx, &kind, text)
}

/// Splits a normalised text into statements at `; `, keeping the bodies of stored programs,
/// triggers, events (BEGIN ... END, PostgreSQL `BEGIN ATOMIC`) and rules (`DO (...; ...)`)
/// whole.
fn split_statements(normalized: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut piece_start = 0;
    let mut depth = 0i64;
    let mut blocky = false;
    loop {
        let rest = normalized.get(piece_start..).unwrap_or("");
        let (piece_end, next) = match rest.find("; ") {
            Some(k) => (piece_start + k, Some(piece_start + k + 2)),
            None => (normalized.len(), None),
        };
        let piece = normalized.get(piece_start..piece_end).unwrap_or("");
        // Only statements that carry a body can go on past a `;`: anywhere else, a stray
        // `begin` or `(` must not hide the statements that follow.
        if piece_start == start {
            let kind = resolve::kind_from_text(piece);
            blocky = matches!(
                kind.as_str(),
                "CREATE PROCEDURE"
                    | "CREATE FUNCTION"
                    | "CREATE TRIGGER"
                    | "CREATE EVENT"
                    | "ALTER EVENT"
                    | "CREATE RULE"
            );
        }
        if blocky {
            depth = (depth + block_delta(piece, depth > 0)).max(0);
        }
        match next {
            Some(n) if depth > 0 => piece_start = n,
            Some(n) => {
                out.push(normalized.get(start..piece_end).unwrap_or("").trim());
                start = n;
                piece_start = n;
            }
            None => {
                out.push(normalized.get(start..).unwrap_or("").trim());
                break;
            }
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Change in nesting over one `;`-separated piece: `(` and `)`; `begin` (not the transaction
/// command that starts a statement) and `case` open, `end` closes unless it ends an IF or loop.
fn block_delta(piece: &str, inside: bool) -> i64 {
    let c = Cursor::new(piece);
    let mut delta = 0i64;
    for (k, t) in c.toks.iter().enumerate() {
        let w = match t {
            Tok::Word(w) => w,
            // A statement does not end inside parentheses (PostgreSQL rule actions).
            Tok::Punct('(') => {
                delta += 1;
                continue;
            }
            Tok::Punct(')') => {
                delta -= 1;
                continue;
            }
            _ => continue,
        };
        match w.as_str() {
            "begin" => {
                let txn = matches!(c.word_at(k + 1), Some("work" | "transaction"));
                if (k > 0 || inside) && !txn {
                    delta += 1;
                }
            }
            // `END CASE` closes a CASE statement; its `case` opens nothing.
            "case" if c.word_at(k.wrapping_sub(1)) != Some("end") => delta += 1,
            "end"
                if !matches!(
                    c.word_at(k + 1),
                    Some("if" | "loop" | "while" | "repeat" | "for")
                ) =>
            {
                delta -= 1;
            }
            _ => {}
        }
    }
    delta
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_outside_bodies() {
        assert_eq!(
            split_statements("begin; select ?; commit"),
            ["begin", "select ?", "commit"]
        );
        let proc = "create procedure p() begin declare x int; if x then set x = ?; end if; \
                    insert into t values (x); end";
        assert_eq!(
            split_statements(&format!("{proc}; call p()")),
            [proc, "call p()"]
        );
        let rule = "create rule r as on delete to t do (delete from a; delete from b)";
        assert_eq!(
            split_statements(&format!("{rule}; select ?")),
            [rule, "select ?"]
        );
        let case = "create procedure p(x int) begin case x when ? then select ?; \
                    else begin end; end case; select case when x then ? end; end";
        assert_eq!(
            split_statements(&format!("{case}; drop table t")),
            [case, "drop table t"]
        );
        let atomic = "create function f() returns int begin atomic select ?; select ?; end";
        assert_eq!(split_statements(atomic), [atomic]);
        // A stray `begin` or `(` outside a body must not hide what follows.
        assert_eq!(
            split_statements("select begin from t; drop table users"),
            ["select begin from t", "drop table users"]
        );
        assert_eq!(
            split_statements("select ((; drop table users"),
            ["select ((", "drop table users"]
        );
        assert_eq!(split_statements(""), Vec::<&str>::new());
    }

    #[test]
    fn recovers_kinds_and_tables() {
        let r = recover(
            Dialect::Postgres,
            "select ? from t; vacuum full a; create table p partition of q for values in (?)",
            true,
        );
        assert_eq!(r.kinds, ["SELECT", "VACUUM", "CREATE TABLE"]);
        assert_eq!(
            r.tables.into_iter().collect::<Vec<_>>(),
            ["a", "p", "q", "t"]
        );
        let r = recover(Dialect::MySql, "handler t1 read first", false);
        assert_eq!(r.kinds, ["HANDLER"]);
        assert_eq!(r.tables.into_iter().collect::<Vec<_>>(), ["t1"]);
        // Nesting is followed only so far.
        let deep = format!("{}select * from t", "explain ".repeat(20));
        let r = recover(Dialect::Postgres, &deep, false);
        assert_eq!(r.kinds, ["EXPLAIN"]);
        assert!(r.tables.is_empty());
        let r = recover(Dialect::Postgres, "explain explain select * from t", false);
        assert_eq!(r.tables.into_iter().collect::<Vec<_>>(), ["t"]);
    }
}
