//! Tables of commands that sqlparser rejected, read at the places their forms name tables:
//! maintenance (`VACUUM t`, `CLUSTER i ON t`, `REINDEX TABLE t`, `OPTIMIZE TABLE a, b`), DDL
//! (`CREATE TABLE p PARTITION OF t`, `... INHERITS (t)`, `REFERENCES t`, `ALTER TABLE t ATTACH
//! PARTITION p`, `CREATE TRIGGER ... ON t`, `CREATE RULE ... TO t`, `ALTER SEQUENCE ... OWNED BY
//! t.c`), privileges and comments (`GRANT ... ON t`, `COMMENT ON COLUMN t.c`), MySQL commands
//! (`LOAD DATA ... INTO TABLE t`, `HANDLER t`, `SHOW INDEX FROM t`, `LOCK TABLES a READ`), and the
//! statements other statements carry (`EXPLAIN`, `PREPARE ... AS`, `DECLARE ... FOR`, `CREATE
//! VIEW ... AS`, `CREATE TABLE ... AS`, CREATE SCHEMA elements), which go back to
//! [`super::any_tables`].

use super::scan::scan_relations;
use super::tokens::{name_at, sorted_contains, Cursor, Tok};
use super::{any_tables, resolve, Ctx};

/// Object types after `GRANT ... ON` and `REVOKE ... ON` that are not tables.
const NOT_TABLE_OBJECTS: &[&str] = &[
    "all",
    "database",
    "domain",
    "foreign",
    "function",
    "functions",
    "language",
    "large",
    "parameter",
    "procedure",
    "procedures",
    "routine",
    "routines",
    "schema",
    "schemas",
    "sequence",
    "sequences",
    "tablespace",
    "type",
    "types",
];

/// Tables named by one normalised statement of kind `kind` (from `kind_from_text`) that sqlparser
/// rejected: DML and queries by a scan of their FROM/JOIN/INTO/UPDATE/USING lists, commands by
/// the places their forms name tables at. See the corpus files for the conventions.
pub(super) fn statement_tables(cx: Ctx, kind: &str, statement: &str) -> Vec<String> {
    let mut c = Cursor::new(statement);
    let first = match c.word_at(0) {
        Some(w) => w.to_string(),
        None => return Vec::new(),
    };
    c.pos = 1;
    match kind {
        "SELECT" | "INSERT" | "REPLACE" | "UPDATE" | "DELETE" | "MERGE" => scan_relations(&c),
        "EXPLAIN" | "ANALYZE" | "DESCRIBE" | "PREPARE" | "DECLARE" => embedded(cx, kind, &mut c),
        "LOCK" => {
            // PostgreSQL `LOCK [TABLE] [ONLY] a, b IN mode`; MySQL `LOCK TABLES a [AS x] READ
            // [LOCAL], b WRITE`.
            c.skip_modifiers();
            let mut names = Vec::new();
            while let Some(n) = c.name() {
                names.push(n);
                while c.peek().is_some() && !c.is_punct(',') {
                    if c.is_punct('(') {
                        c.skip_parens();
                    } else {
                        c.pos += 1;
                    }
                }
                if !c.is_punct(',') {
                    break;
                }
                c.pos += 1;
                c.skip_modifiers();
            }
            names
        }
        "VACUUM" | "TRUNCATE" | "OPTIMIZE" | "REPAIR" | "CHECKSUM" | "CHECK" | "REFRESH"
        | "HANDLER" => {
            c.skip_modifiers();
            let names = c.name_list();
            if kind == "HANDLER" {
                names.into_iter().take(1).collect()
            } else {
                names
            }
        }
        "CACHE" => {
            c.eat("index");
            c.name_list()
        }
        "FLUSH" => {
            c.eat("no_write_to_binlog");
            c.eat("local");
            if c.is_word("table") || c.is_word("tables") {
                c.skip_modifiers();
                c.name_list()
            } else {
                Vec::new()
            }
        }
        "LOAD" => {
            if c.is_word("index") {
                if c.past_top("cache") {
                    return c.name_list();
                }
            } else if let Some(k) = c.find_top("into") {
                c.pos = k + 1;
                c.eat("table");
                return c.name().into_iter().collect();
            }
            Vec::new()
        }
        "COPY" => {
            if !c.is_punct('(') {
                c.skip_modifiers();
            }
            if c.is_punct('(') {
                let end = c.group_end(c.pos);
                let inner = c.slice(c.pos + 1, end.saturating_sub(1));
                return any_tables(cx, inner);
            }
            c.name().into_iter().collect()
        }
        "CLUSTER" => {
            c.eat("verbose");
            c.skip_parens();
            let Some(first_name) = c.name() else {
                return Vec::new();
            };
            // Old form: `CLUSTER index ON table`.
            if c.eat("on") {
                return c.name().into_iter().collect();
            }
            vec![first_name]
        }
        "REINDEX" => {
            c.skip_parens();
            if c.eat("table") {
                c.eat("concurrently");
                return c.name().into_iter().collect();
            }
            Vec::new()
        }
        "SHOW" => show_tables(&mut c),
        "GRANT" | "REVOKE" => grant_tables(&mut c),
        "COMMENT" => {
            if c.past_on() {
                object_tables(&mut c)
            } else {
                Vec::new()
            }
        }
        "SECURITY LABEL" => {
            if c.past_on() {
                object_tables(&mut c)
            } else {
                Vec::new()
            }
        }
        "CREATE TABLE" | "CREATE FOREIGN TABLE" => create_table(cx, &mut c),
        "CREATE VIEW" | "CREATE MATERIALIZED VIEW" => {
            if !c.past_top("view") {
                return Vec::new();
            }
            c.skip_modifiers();
            let mut names: Vec<String> = c.name().into_iter().collect();
            names.extend(as_query_tables(cx, &mut c));
            names
        }
        "ALTER TABLE" | "ALTER FOREIGN TABLE" | "ALTER VIEW" | "ALTER MATERIALIZED VIEW" => {
            alter_table(cx, &mut c)
        }
        "DROP TABLE" | "DROP VIEW" | "DROP MATERIALIZED VIEW" | "DROP FOREIGN TABLE" => {
            c.skip_modifiers();
            c.name_list()
        }
        "CREATE INDEX" | "DROP INDEX" => {
            if c.past_on() {
                c.skip_modifiers();
                c.name_list().into_iter().take(1).collect()
            } else {
                Vec::new()
            }
        }
        "CREATE TRIGGER" | "ALTER TRIGGER" | "DROP TRIGGER" | "CREATE RULE" | "ALTER RULE"
        | "DROP RULE" | "DROP POLICY" => on_table(&mut c).into_iter().collect(),
        // `SET @x = (SELECT ...)` reads the subquery's tables.
        "SET" => subquery_tables(cx, &c),
        "CREATE POLICY" | "ALTER POLICY" => {
            let mut names: Vec<String> = on_table(&mut c).into_iter().collect();
            names.extend(subquery_tables(cx, &c));
            names
        }
        "CREATE SCHEMA" => schema_elements(cx, &c),
        "ALTER SEQUENCE" => {
            if c.past_top("owned") && c.eat("by") {
                if let Some(n) = c.name() {
                    if let Some((table, _column)) = n.rsplit_once('.') {
                        return vec![table.to_string()];
                    }
                }
            }
            Vec::new()
        }
        "CREATE STATISTICS" => {
            if c.past_top("from") {
                c.name_list()
            } else {
                Vec::new()
            }
        }
        "CREATE PUBLICATION" | "ALTER PUBLICATION" => {
            // `FOR TABLE [ONLY] a [*] [(cols)] [WHERE (...)], [TABLE] b, TABLES IN SCHEMA s`.
            let mut names = Vec::new();
            while let Some(k) = c.find_top("table") {
                c.pos = k + 1;
                loop {
                    c.eat("only");
                    if c.is_word("tables") {
                        break;
                    }
                    let Some(n) = c.name() else { break };
                    names.push(n);
                    if c.is_punct('*') {
                        c.pos += 1;
                    }
                    c.skip_parens();
                    if c.eat("where") {
                        c.skip_parens();
                    }
                    if !c.is_punct(',') {
                        break;
                    }
                    c.pos += 1;
                    c.eat("table");
                }
            }
            names
        }
        "RENAME TABLE" => {
            c.eat("table");
            let mut names = Vec::new();
            while let Some(n) = c.name() {
                names.push(n);
                if !(c.eat("to") || c.is_punct(',')) {
                    break;
                }
                if c.is_punct(',') {
                    c.pos += 1;
                }
            }
            names
        }
        _ if first == "table" => scan_relations(&c),
        _ => Vec::new(),
    }
}

/// EXPLAIN, ANALYZE, DESCRIBE, PREPARE and DECLARE: the tables of the statement they carry, or
/// the table they describe (`EXPLAIN t`, `DESCRIBE t [col]`).
fn embedded(cx: Ctx, kind: &str, c: &mut Cursor<'_>) -> Vec<String> {
    match kind {
        "PREPARE" => {
            // `PREPARE name [(types)] AS statement`; MySQL `PREPARE name FROM 'text'` is a string.
            if !c.past_top("as") {
                return Vec::new();
            }
        }
        "DECLARE" => {
            if !c.past_top("for") {
                return Vec::new();
            }
        }
        _ => {
            // Options: `(ANALYZE, COSTS OFF)`, `ANALYZE VERBOSE`, `FORMAT = JSON`, `EXTENDED`.
            loop {
                match c.peek() {
                    Some(Tok::Punct('(')) => c.skip_parens(),
                    Some(Tok::Punct('=')) => c.pos += 2,
                    Some(Tok::Word(w))
                        if matches!(
                            w.as_str(),
                            "analyze"
                                | "verbose"
                                | "extended"
                                | "partitions"
                                | "format"
                                | "local"
                                | "no_write_to_binlog"
                                | "table"
                                | "full"
                        ) =>
                    {
                        c.pos += 1
                    }
                    _ => break,
                }
            }
            // A statement follows when its first word is a command (`EXPLAIN SELECT ...`,
            // `ANALYZE SELECT ...`); otherwise a table does (`EXPLAIN t`, `DESCRIBE t col`).
            let rest_kind = resolve::kind_from_text(c.rest_from(c.pos));
            let starts = c.is_punct('(') || !matches!(rest_kind.as_str(), "UNKNOWN" | "");
            if !starts {
                if c.is_word("for") {
                    return Vec::new();
                }
                if kind == "ANALYZE" {
                    return c.name_list();
                }
                return c.name().into_iter().collect();
            }
        }
    }
    any_tables(cx, c.rest_from(c.pos))
}

/// CREATE TABLE: the new table, PARTITION OF parent, LIKE source, INHERITS parents, REFERENCES
/// targets, MySQL MERGE `UNION = (...)`, and the query of AS SELECT / MySQL `... SELECT`.
fn create_table(cx: Ctx, c: &mut Cursor<'_>) -> Vec<String> {
    c.eat("or");
    c.eat("replace");
    c.skip_modifiers();
    let Some(name) = c.name() else {
        return Vec::new();
    };
    let mut names = vec![name];
    if c.eat("partition") && c.eat("of") {
        names.extend(c.name());
    }
    if c.eat("like") {
        names.extend(c.name());
    }
    let body_start = c.pos;
    if c.is_punct('(') {
        if c.word_at(c.pos + 1) == Some("like") {
            c.pos += 2;
            names.extend(c.name());
        }
        c.pos = c.group_end(body_start);
    }
    names.extend(references(c, body_start));
    // After the column list: INHERITS (...), UNION = (...), and a query.
    let mut k = c.pos;
    while let Some(t) = c.tok(k) {
        match t {
            Tok::Word(w) if w == "inherits" || w == "union" => {
                let mut j = k + 1;
                if c.tok(j) == Some(&Tok::Punct('=')) {
                    j += 1;
                }
                if c.tok(j) == Some(&Tok::Punct('(')) {
                    let mut sub = Cursor::new(c.slice(j + 1, c.group_end(j).saturating_sub(1)));
                    names.extend(sub.name_list());
                    k = c.group_end(j);
                    continue;
                }
            }
            // `AS query`, MySQL `[IGNORE | REPLACE] [AS] SELECT ...` and `WITH cte AS (...) SELECT`
            // (not `WITH (storage options)`).
            Tok::Word(w)
                if w == "as"
                    || w == "select"
                    || (w == "with"
                        && (c.word_at(k + 1) == Some("recursive")
                            || c.word_at(k + 2) == Some("as"))) =>
            {
                let at = if w == "as" { k + 1 } else { k };
                c.pos = at;
                let query = strip_view_suffix(c.rest_from(at));
                names.extend(any_tables(cx, query));
                break;
            }
            Tok::Punct('(') => {
                // `... AS (SELECT ...)` is handled above; other groups are options.
                k = c.group_end(k);
                continue;
            }
            _ => {}
        }
        k += 1;
    }
    names
}

/// Tables after REFERENCES anywhere from token `from` on.
fn references(c: &Cursor<'_>, from: usize) -> Vec<String> {
    let mut names = Vec::new();
    for (k, t) in c.toks.iter().enumerate().skip(from) {
        if matches!(t, Tok::Word(w) if w == "references") {
            names.extend(name_at(&c.toks, k + 1).map(|(n, _)| n));
        }
    }
    names
}

/// `... AS query [WITH [NO] DATA | WITH [CASCADED|LOCAL] CHECK OPTION]`: the query's tables.
fn as_query_tables(cx: Ctx, c: &mut Cursor<'_>) -> Vec<String> {
    match c.find_top("as") {
        Some(k) => any_tables(cx, strip_view_suffix(c.rest_from(k + 1))),
        None => Vec::new(),
    }
}

/// The text without a trailing `with [no] data` or `with [cascaded|local] check option`.
fn strip_view_suffix(text: &str) -> &str {
    let t = text.trim_end();
    for suffix in [
        " with no data",
        " with data",
        " with cascaded check option",
        " with local check option",
        " with check option",
    ] {
        if let Some(head) = t.strip_suffix(suffix) {
            return head;
        }
    }
    t
}

/// ALTER TABLE / VIEW / MATERIALIZED VIEW / FOREIGN TABLE: the relation, a new name, and the
/// tables named by ATTACH/DETACH PARTITION, [NO] INHERIT, REFERENCES, EXCHANGE PARTITION ...
/// WITH TABLE, and MySQL `ALTER VIEW v AS query`.
fn alter_table(cx: Ctx, c: &mut Cursor<'_>) -> Vec<String> {
    c.skip_modifiers();
    // `ALTER TABLE ALL IN TABLESPACE x SET TABLESPACE y` names no table.
    if c.is_word("all") && c.word_at(c.pos + 1) == Some("in") {
        return Vec::new();
    }
    let Some(name) = c.name() else {
        return Vec::new();
    };
    let mut names = vec![name];
    if c.is_punct('*') {
        c.pos += 1;
    }
    let start = c.pos;
    names.extend(references(c, start));
    while let Some(t) = c.peek().cloned() {
        c.pos += 1;
        let Tok::Word(w) = t else {
            if t == Tok::Punct('(') {
                c.pos = c.group_end(c.pos - 1);
            }
            continue;
        };
        match w.as_str() {
            "attach" | "detach" if c.eat("partition") => names.extend(c.name()),
            "exchange" if c.eat("partition") => {
                c.name();
                if c.eat("with") && c.eat("table") {
                    names.extend(c.name());
                }
            }
            "inherit" => names.extend(c.name()),
            "rename" => {
                if c.eat("to") || c.eat("as") {
                    names.extend(c.name());
                } else if !matches!(
                    c.word_at(c.pos),
                    Some("column" | "constraint" | "index" | "key")
                ) {
                    // MySQL `RENAME t2`; PostgreSQL `RENAME col TO new` renames a column.
                    let save = c.pos;
                    if let Some(n) = c.name() {
                        if c.is_word("to") {
                            c.pos = save + 1;
                        } else {
                            names.push(n);
                        }
                    }
                }
            }
            "as" => {
                names.extend(any_tables(cx, c.rest_from(c.pos)));
                break;
            }
            _ => {}
        }
    }
    names
}

/// The table after the first top-level `ON` (triggers, policies, rules): `ON t`, or for rules
/// `ON event TO t`.
fn on_table(c: &mut Cursor<'_>) -> Option<String> {
    if !c.past_on() {
        return None;
    }
    if matches!(
        c.word_at(c.pos),
        Some("select" | "insert" | "update" | "delete")
    ) && c.word_at(c.pos + 1) == Some("to")
    {
        c.pos += 2;
    }
    c.name()
}

/// After `COMMENT ON` / `SECURITY LABEL ... ON`: the relation the object belongs to.
fn object_tables(c: &mut Cursor<'_>) -> Vec<String> {
    let Some(Tok::Word(object)) = c.peek().cloned() else {
        return Vec::new();
    };
    c.pos += 1;
    match object.as_str() {
        "table" | "view" => c.name().into_iter().collect(),
        "materialized" | "foreign" => {
            c.pos += 1;
            c.name().into_iter().collect()
        }
        "column" => match c.name() {
            Some(n) => n
                .rsplit_once('.')
                .map(|(t, _)| vec![t.to_string()])
                .unwrap_or_default(),
            None => Vec::new(),
        },
        "trigger" | "policy" | "rule" | "constraint" => {
            c.name();
            if c.eat("on") && !c.is_word("domain") {
                c.name().into_iter().collect()
            } else {
                Vec::new()
            }
        }
        _ => Vec::new(),
    }
}

/// GRANT/REVOKE ... ON [TABLE] t, ...: the tables (not schemas, functions, `db.*`, roles).
fn grant_tables(c: &mut Cursor<'_>) -> Vec<String> {
    if !c.past_on() {
        return Vec::new();
    }
    if let Some(Tok::Word(w)) = c.peek() {
        if sorted_contains(NOT_TABLE_OBJECTS, w) {
            return Vec::new();
        }
    }
    c.eat("table");
    c.name_list()
}

/// SHOW forms that name a table: `SHOW [FULL] COLUMNS|FIELDS|INDEX|INDEXES|KEYS FROM|IN t
/// [FROM|IN db]` and `SHOW CREATE TABLE|VIEW t`.
fn show_tables(c: &mut Cursor<'_>) -> Vec<String> {
    c.eat("full");
    c.eat("extended");
    if c.eat("create") {
        if c.eat("table") || c.eat("view") {
            return c.name().into_iter().collect();
        }
        return Vec::new();
    }
    if !matches!(
        c.word_at(c.pos),
        Some("columns" | "fields" | "index" | "indexes" | "keys")
    ) {
        return Vec::new();
    }
    c.pos += 1;
    if !(c.eat("from") || c.eat("in")) {
        return Vec::new();
    }
    let Some(t) = c.name() else {
        return Vec::new();
    };
    if c.eat("from") || c.eat("in") {
        if let Some(db) = c.name() {
            return vec![format!("{db}.{t}")];
        }
    }
    vec![t]
}

/// CREATE SCHEMA ... followed by CREATE/GRANT elements: the tables of each element.
fn schema_elements(cx: Ctx, c: &Cursor<'_>) -> Vec<String> {
    let mut starts = Vec::new();
    let mut depth = 0usize;
    for (k, t) in c.toks.iter().enumerate().skip(1) {
        match t {
            Tok::Punct('(') => depth += 1,
            Tok::Punct(')') => depth = depth.saturating_sub(1),
            Tok::Word(w) if depth == 0 && (w == "create" || w == "grant") => starts.push(k),
            _ => {}
        }
    }
    let mut names = Vec::new();
    for (n, &k) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(c.toks.len());
        names.extend(any_tables(cx, c.slice(k, end).trim()));
    }
    names
}

/// Tables of the `(SELECT ...)` subqueries anywhere in the statement (policy expressions, SET
/// values).
fn subquery_tables(cx: Ctx, c: &Cursor<'_>) -> Vec<String> {
    let mut names = Vec::new();
    let mut k = 0;
    while k < c.toks.len() {
        if c.tok(k) == Some(&Tok::Punct('(')) && matches!(c.word_at(k + 1), Some("select" | "with"))
        {
            let end = c.group_end(k);
            names.extend(any_tables(cx, c.slice(k + 1, end.saturating_sub(1))));
            k = end;
        } else {
            k += 1;
        }
    }
    names
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::sql::Dialect;

    #[test]
    fn word_lists_are_sorted() {
        let mut sorted = NOT_TABLE_OBJECTS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, NOT_TABLE_OBJECTS);
    }

    #[test]
    fn tables_of_simple_forms() {
        for (kind, text, tables) in [
            (
                "VACUUM",
                "vacuum analyze pgbench_branches",
                &["pgbench_branches"][..],
            ),
            ("VACUUM", "vacuum(verbose, analyze) a, b(x)", &["a", "b"]),
            (
                "REFRESH",
                "refresh materialized view concurrently s.mv with data",
                &["s.mv"],
            ),
            ("LOCK", "lock table only orders in share mode", &["orders"]),
            (
                "COPY",
                "copy \"T\" (a, b) from stdin with(freeze on)",
                &["T"],
            ),
            ("SELECT", "table users", &["users"]),
            ("SELECT", "select * from users", &["users"]),
            (
                "ALTER TABLE",
                "alter table `orders` disable keys",
                &["orders"],
            ),
            (
                "DROP TABLE",
                "drop table if exists a, b restrict cascade",
                &["a", "b"],
            ),
            (
                "CREATE TABLE",
                "create table t(like s including all)",
                &["t", "s"],
            ),
            (
                "CREATE TABLE",
                "create table if not exists t(id int) junk",
                &["t"],
            ),
            (
                "CREATE INDEX",
                "create index concurrently i on only t(a)",
                &["t"],
            ),
            ("DROP INDEX", "drop index concurrently if exists i", &[]),
            ("INSERT", "insert ignore into t(a) values (?)", &["t"]),
            ("DELETE", "delete from t where", &["t"]),
            (
                "OPTIMIZE",
                "optimize no_write_to_binlog table a, b",
                &["a", "b"],
            ),
            ("UNKNOWN", "frobnicate t", &[]),
            ("COPY", "copy (select a from t) to stdout with csv", &["t"]),
            ("DELETE", "delete from where", &[]),
            ("VACUUM", "vacuum", &[]),
            ("VACUUM", "", &[]),
            ("VACUUM", "vacuum \"unterminated", &["unterminated"]),
            ("CLUSTER", "cluster verbose i on s.t", &["s.t"]),
            ("CLUSTER", "cluster t using i", &["t"]),
            ("REINDEX", "reindex (verbose) table concurrently t", &["t"]),
            ("REINDEX", "reindex index i", &[]),
            ("LOCK", "lock tables a read local, b as x write, c.d read", &["a", "b", "c.d"]),
            ("HANDLER", "handler t1 read `primary` = (?) limit ?", &["t1"]),
            (
                "LOAD",
                "load data local infile ? replace into table d.t fields terminated by ?",
                &["d.t"],
            ),
            ("LOAD", "load index into cache a, b ignore leaves", &["a", "b"]),
            ("LOAD", "load ?", &[]),
            ("FLUSH", "flush tables a, b with read lock", &["a", "b"]),
            ("FLUSH", "flush privileges", &[]),
            ("SHOW", "show full columns from t from d", &["d.t"]),
            ("SHOW", "show create view v", &["v"]),
            ("SHOW", "show tables from d", &[]),
            ("DESCRIBE", "describe t c", &["t"]),
            ("EXPLAIN", "explain (costs off) select * from a join b using (x)", &["a", "b"]),
            ("EXPLAIN", "explain for connection ?", &[]),
            ("PREPARE", "prepare p (int) as delete from t where id = $1", &["t"]),
            ("PREPARE", "prepare s from ?", &[]),
            ("DECLARE", "declare c scroll cursor with hold for select * from t", &["t"]),
            ("COPY", "copy (select * from t) to stdout", &["t"]),
            ("COPY", "copy binary t to stdout", &["t"]),
            ("GRANT", "grant select (a), update on table s.t, u to r", &["s.t", "u"]),
            ("GRANT", "grant all on all tables in schema s to r", &[]),
            ("GRANT", "grant select on d.* to ?@?", &[]),
            ("REVOKE", "revoke grant option for insert on t from r", &["t"]),
            ("GRANT", "grant r to u", &[]),
            ("COMMENT", "comment on column s.t.c is ?", &["s.t"]),
            ("COMMENT", "comment on constraint k on t is ?", &["t"]),
            ("COMMENT", "comment on constraint k on domain d is ?", &[]),
            ("COMMENT", "comment on function f(int) is ?", &[]),
            ("SECURITY LABEL", "security label for ? on materialized view m is ?", &["m"]),
            ("CREATE TABLE", "create table p partition of t for values in (?)", &["p", "t"]),
            (
                "CREATE TABLE",
                "create table c (a int references p(a)) inherits (q, r)",
                &["c", "p", "q", "r"],
            ),
            (
                "CREATE TABLE",
                "create table t with (fillfactor = ?) as select * from s with no data",
                &["t", "s"],
            ),
            (
                "CREATE TABLE",
                "create table m (a int) engine = merge union = (x, y)",
                &["m", "x", "y"],
            ),
            ("CREATE TABLE", "create or replace table s.t (a int) transactional = ?", &["s.t"]),
            (
                "CREATE VIEW",
                "create or replace algorithm = merge definer = `u`@`h` view v (x) as select x from t with check option",
                &["v", "t"],
            ),
            (
                "ALTER TABLE",
                "alter table only t attach partition p for values from (?) to (?)",
                &["t", "p"],
            ),
            ("ALTER TABLE", "alter table t rename a to b", &["t"]),
            ("ALTER TABLE", "alter table t rename to u", &["t", "u"]),
            ("ALTER TABLE", "alter table t rename u", &["t", "u"]),
            ("ALTER TABLE", "alter table e exchange partition p with table e2", &["e", "e2"]),
            ("ALTER TABLE", "alter table all in tablespace a set tablespace b", &[]),
            ("ALTER VIEW", "alter view v as select * from t", &["v", "t"]),
            (
                "CREATE TRIGGER",
                "create trigger g before update of a on t for each row execute function f()",
                &["t"],
            ),
            ("DROP TRIGGER", "drop trigger g on t", &["t"]),
            ("DROP TRIGGER", "drop trigger if exists d.g", &[]),
            (
                "CREATE RULE",
                "create rule r as on insert to t do instead insert into u values (new.a)",
                &["t"],
            ),
            ("CREATE POLICY", "create policy p on t using (a = (select b from u))", &["t", "u"]),
            (
                "CREATE SCHEMA",
                "create schema s create table s.a (x int) create view v as select * from s.a",
                &["s.a", "v", "s.a"],
            ),
            ("ALTER SEQUENCE", "alter sequence q owned by s.t.c", &["s.t"]),
            ("ALTER SEQUENCE", "alter sequence q owned by none", &[]),
            ("CREATE STATISTICS", "create statistics x on a, b from t", &["t"]),
            (
                "CREATE PUBLICATION",
                "create publication p for table a, only b where (x > ?), table c",
                &["a", "b", "c"],
            ),
            ("CREATE PUBLICATION", "create publication p for table a, tables in schema s", &["a"]),
            ("SET", "set @x = (select count(*) from t)", &["t"]),
        ] {
            assert_eq!(
                statement_tables(Ctx::rules_only(Dialect::Postgres), kind, text),
                tables,
                "{text}"
            );
        }
    }
}
