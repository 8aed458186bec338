//! Redaction of the event fields besides `statement.text` that can carry data: the client's
//! command line, the server's error message and the SQL parser's message. Pure. Redaction is a
//! property of the whole event: `keep_literals` turns all of it off (a documented risk).
use crate::sql::Dialect;

/// A quoted value (`'...'`, `"..."`, `` `...` ``) in a message becomes `?` in its quotes; a
/// key detail `=(...)` becomes `=(?)`. The message's shape (its words, SQLSTATE-like codes,
/// numbers outside quotes) stays.
pub fn message(msg: &str) -> String {
    // MySQL's syntax errors quote a raw piece of the statement, cut anywhere (quotes inside it
    // need not balance): `... near 'snippet' at line N`. The whole snippet goes.
    if let (Some(a), Some(b)) = (msg.find(" near '"), msg.rfind("' at line ")) {
        let start = a + " near '".len();
        if start <= b {
            return format!("{}?{}", &msg[..start], &msg[b..]);
        }
    }
    let mut out = String::with_capacity(msg.len());
    let mut chars = msg.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        match c {
            '\'' | '"' | '`' => {
                out.push(c);
                out.push('?');
                // To the closing quote (a doubled quote is an escaped one).
                let mut closed = false;
                while let Some((_, d)) = chars.next() {
                    if d == c {
                        if chars.peek().map(|&(_, e)| e) == Some(c) {
                            chars.next();
                            continue;
                        }
                        closed = true;
                        break;
                    }
                }
                if closed {
                    out.push(c);
                }
            }
            '=' if chars.peek().map(|&(_, e)| e) == Some('(') => {
                chars.next();
                out.push_str("=(?)");
                let mut depth = 1;
                for (_, d) in chars.by_ref() {
                    match d {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// sqlparser's message without the token it failed on (`found: 'ann@example.com' at Line:
/// 1, Column: 9` becomes `found: ? at Line: 1, Column: 9`): the message is cached per
/// fingerprint, so one session's value would appear on another's events.
pub fn parse_error(msg: &str) -> String {
    let msg = message(msg);
    let Some(i) = msg.find("found: ") else {
        return msg;
    };
    let start = i + "found: ".len();
    let rest = &msg[start..];
    let end = rest.find(" at Line:").unwrap_or(rest.len());
    format!("{}?{}", &msg[..start], &rest[end..])
}

/// Options whose value is a password (`--password=x`, `--password x`; MySQL's `-px`).
const PASSWORD_OPTIONS: &[&str] = &["--password", "--passwd", "--pass", "--pwd"];
/// Options whose value is SQL (psql `-c`, mysql/mariadb `-e`, sqlite-style `--command`).
const SQL_OPTIONS: &[&str] = &["-c", "--command", "-e", "--execute"];

/// The client's command line with the values that can be data replaced: passwords (options
/// and credentials in URIs), and literals and comments in SQL given as an argument. The
/// executable and the options themselves stay.
pub fn cmdline(args: &[String]) -> String {
    let exe = args.first().map(String::as_str).unwrap_or("");
    let name = exe.rsplit('/').next().unwrap_or(exe);
    let mysql = name.starts_with("mysql") || name.starts_with("mariadb");
    let dialect = if mysql {
        Dialect::MySql
    } else {
        Dialect::Postgres
    };
    let mut out: Vec<String> = Vec::with_capacity(args.len());
    let mut next_is: Option<Next> = None;
    for (i, a) in args.iter().enumerate() {
        if i == 0 {
            out.push(a.clone());
            continue;
        }
        match next_is.take() {
            Some(Next::Password) => {
                out.push("?".into());
                continue;
            }
            Some(Next::Sql) => {
                out.push(sql(dialect, a));
                continue;
            }
            None => {}
        }
        if let Some((opt, value)) = a.split_once('=').filter(|(o, _)| o.starts_with("--")) {
            if PASSWORD_OPTIONS.contains(&opt) {
                out.push(format!("{opt}=?"));
            } else if SQL_OPTIONS.contains(&opt) {
                out.push(format!("{opt}={}", sql(dialect, value)));
            } else {
                out.push(format!("{opt}={}", uri(value)));
            }
            continue;
        }
        if PASSWORD_OPTIONS.contains(&a.as_str()) {
            out.push(a.clone());
            // mysql's `--password` alone prompts; psql has no such option: only a following
            // argument that is not an option is the value.
            if args.get(i + 1).is_some_and(|n| !n.starts_with('-')) && !mysql {
                next_is = Some(Next::Password);
            }
            continue;
        }
        if mysql && a.starts_with("-p") && a.len() > 2 && !a.starts_with("--") {
            out.push("-p?".into());
            continue;
        }
        if SQL_OPTIONS.contains(&a.as_str()) {
            out.push(a.clone());
            next_is = Some(Next::Sql);
            continue;
        }
        if !mysql && a.starts_with("-c") && a.len() > 2 && !a.starts_with("--") {
            out.push(format!("-c{}", sql(dialect, &a[2..])));
            continue;
        }
        if mysql && a.starts_with("-e") && a.len() > 2 && !a.starts_with("--") {
            out.push(format!("-e{}", sql(dialect, &a[2..])));
            continue;
        }
        if looks_like_sql(a) {
            out.push(sql(dialect, a));
            continue;
        }
        out.push(uri(a));
    }
    out.join(" ")
}

enum Next {
    Password,
    Sql,
}

/// Statement words a SQL argument starts with.
fn looks_like_sql(a: &str) -> bool {
    let first = a
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    matches!(
        first.as_str(),
        "SELECT"
            | "INSERT"
            | "UPDATE"
            | "DELETE"
            | "WITH"
            | "CREATE"
            | "ALTER"
            | "DROP"
            | "TRUNCATE"
            | "GRANT"
            | "REVOKE"
            | "COPY"
            | "CALL"
            | "EXECUTE"
            | "REPLACE"
            | "MERGE"
            | "VALUES"
            | "SET"
    ) && a.contains(' ')
}

fn sql(dialect: Dialect, text: &str) -> String {
    crate::sql::redact_text(dialect, text)
}

/// `scheme://user:secret@host/...` becomes `scheme://user:?@host/...`; a `password=` key in a
/// libpq connection string becomes `password=?`.
fn uri(a: &str) -> String {
    let mut s = a.to_owned();
    if let Some(i) = s.find("://") {
        let auth_start = i + 3;
        let auth_end = s[auth_start..]
            .find(['/', '?', '#'])
            .map(|e| auth_start + e)
            .unwrap_or(s.len());
        if let Some(at) = s[auth_start..auth_end].rfind('@') {
            let userinfo = &s[auth_start..auth_start + at];
            if let Some(colon) = userinfo.find(':') {
                let start = auth_start + colon + 1;
                s.replace_range(start..auth_start + at, "?");
            }
        }
    }
    // libpq keyword/value strings and URI query parameters.
    for key in ["password=", "passwd="] {
        let mut from = 0;
        while let Some(p) = s[from..].to_ascii_lowercase().find(key) {
            let vs = from + p + key.len();
            let ve = s[vs..]
                .find([' ', '&', ';'])
                .map(|e| vs + e)
                .unwrap_or(s.len());
            s.replace_range(vs..ve, "?");
            from = vs + 1;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn command_lines_keep_the_program_and_options_and_lose_the_values() {
        assert_eq!(
            cmdline(&argv(&[
                "psql",
                "-h",
                "db",
                "-c",
                "UPDATE customers SET ssn='987-65-4321' WHERE id=1"
            ])),
            "psql -h db -c UPDATE customers SET ssn=? WHERE id=?"
        );
        assert_eq!(
            cmdline(&argv(&[
                "psql",
                "postgresql://u:secret@h:5432/db?sslmode=require"
            ])),
            "psql postgresql://u:?@h:5432/db?sslmode=require"
        );
        assert_eq!(
            cmdline(&argv(&["psql", "host=h user=u password=secret dbname=x"])),
            "psql host=h user=u password=? dbname=x"
        );
        assert_eq!(
            cmdline(&argv(&[
                "/usr/bin/mariadb",
                "-uroot",
                "-psecret",
                "-e",
                "SELECT * FROM t WHERE email='ann@example.com' /* card 4111 */"
            ])),
            "/usr/bin/mariadb -uroot -p? -e SELECT * FROM t WHERE email=? /* ? */"
        );
        assert_eq!(
            cmdline(&argv(&["mysql", "--password=secret", "--execute=SELECT 1"])),
            "mysql --password=? --execute=SELECT ?"
        );
        assert_eq!(
            cmdline(&argv(&["python3", "etl.py", "--since", "2024-01-01"])),
            "python3 etl.py --since 2024-01-01"
        );
        assert_eq!(cmdline(&argv(&["psql", "-cSELECT 'x'"])), "psql -cSELECT ?");
    }

    #[test]
    fn messages_keep_their_shape_without_values() {
        assert_eq!(
            message("Duplicate entry 'ann@example.com' for key 'email'"),
            "Duplicate entry '?' for key '?'"
        );
        assert_eq!(
            message("invalid input syntax for type integer: \"987-65-4321\""),
            "invalid input syntax for type integer: \"?\""
        );
        assert_eq!(
            message("Key (email)=(ann@example.com) already exists."),
            "Key (email)=(?) already exists."
        );
        assert_eq!(message("it''s 'a''b' ok"), "it'?'s '?' ok");
        assert_eq!(message("unterminated 'abc"), "unterminated '?");
        assert_eq!(
            message("You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near ''987-65-4321' FROM FROM '4111111111111111'' at line 1"),
            "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near '?' at line 1"
        );
        assert_eq!(
            parse_error(
                "sql parser error: Expected: end of statement, found: ann at Line: 1, Column: 9"
            ),
            "sql parser error: Expected: end of statement, found: ? at Line: 1, Column: 9"
        );
        assert_eq!(
            parse_error("sql parser error: Expected: an expression, found: '4111111111111111'"),
            "sql parser error: Expected: an expression, found: ?"
        );
    }
}
