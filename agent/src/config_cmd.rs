//! `dbgov config check|default` and the generated documentation (`dbgov completions`,
//! `dbgov man`).
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Subcommand;

use dbgov::config::{Config, ConfigError};

/// The configuration the package installs as /etc/dbgov/agent.yaml.
pub const SHIPPED_CONFIG: &str = include_str!("../../packaging/agent.yaml");

#[derive(Subcommand)]
pub enum ConfigCmd {
    /// Validate a configuration file: YAML syntax, unknown keys, types, values, and the files
    /// and directories it names (signing key, policy directory, token files). Prints each
    /// problem as FILE:LINE: KEY: MESSAGE and exits 1; prints `ok` and exits 0 otherwise.
    Check {
        /// The file, e.g. /etc/dbgov/agent.yaml.
        file: PathBuf,
    },
    /// Print the configuration the package installs (/etc/dbgov/agent.yaml), every key with
    /// its default and a comment.
    Default,
}

pub fn config(cmd: ConfigCmd) -> Result<()> {
    match cmd {
        ConfigCmd::Check { file } => check(&file),
        ConfigCmd::Default => {
            print!("{SHIPPED_CONFIG}");
            Ok(())
        }
    }
}

fn check(file: &Path) -> Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let problems = problems(file, &text);
    if problems.is_empty() {
        println!("{}: ok", file.display());
        return Ok(());
    }
    for p in &problems {
        eprintln!("{p}");
    }
    bail!(
        "{}: {} problem{}",
        file.display(),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    )
}

/// Every problem found in a configuration text, each `FILE:LINE[:COLUMN]: message`.
pub fn problems(file: &Path, text: &str) -> Vec<String> {
    let name = file.display();
    let cfg = match Config::parse(file, text) {
        Ok(c) => c,
        Err(ConfigError::Parse { source, .. }) => {
            let msg = source.to_string();
            // serde_yaml appends " at line L column C"; the location leads instead.
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
            return vec![match source.location() {
                Some(l) => format!("{name}:{}:{}: {msg}", l.line(), l.column()),
                None => format!("{name}: {msg}"),
            }];
        }
        Err(e) => return vec![format!("{name}: {e}")],
    };
    let at = |key: &str, msg: &str| match key_line(text, key) {
        Some(line) => format!("{name}:{line}: {key}: {msg}"),
        None => format!("{name}: {key}: {msg}"),
    };
    let mut out = Vec::new();
    if let Err(ConfigError::Invalid { key, msg }) = cfg.validate() {
        out.push(at(key, &msg));
    }
    if let Some(k) = &cfg.signing_key {
        if let Err(e) = dbgov::audit::checkpoint::load_signing_key(k) {
            out.push(at("signing_key", &format!("{}: {e}", k.display())));
        }
    }
    if let Some(d) = &cfg.policy_dir {
        if let Err(e) = dbgov::policy::Policy::load_dir(d) {
            out.push(at("policy_dir", &format!("{}: {e}", d.display())));
        }
    }
    for (key, f) in [
        (
            "proxy_control.token_file",
            cfg.proxy_control.token_file.as_ref(),
        ),
        ("proxy_control.ca", cfg.proxy_control.ca.as_ref()),
        (
            "proxy.control_token_file",
            cfg.proxy.control_token_file.as_ref(),
        ),
    ] {
        if let Some(f) = f {
            if let Err(e) = std::fs::metadata(f) {
                out.push(at(key, &format!("{}: {e}", f.display())));
            }
        }
    }
    out
}

/// The 1-based line where a dotted key (`checkpoint.interval_secs`) is set: each part is
/// looked for after the line of the part before it.
fn key_line(text: &str, key: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut from = 0;
    let mut found = None;
    for part in key.split('.') {
        let i = lines.iter().enumerate().skip(from).find_map(|(i, l)| {
            let t = l.trim_start();
            (!t.starts_with('#') && t.strip_prefix(part)?.trim_start().starts_with(':'))
                .then_some(i)
        })?;
        found = Some(i + 1);
        from = i + 1;
    }
    found
}

/// Writes the man pages (dbgov.1 and one per subcommand, `dbgov-run.1`, ...) to `dir`.
pub fn man(cmd: clap::Command, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    clap_mangen::generate_to(cmd, dir).with_context(|| format!("writing to {}", dir.display()))?;
    Ok(())
}

/// Prints the completion script for `shell`.
pub fn completions(mut cmd: clap::Command, shell: clap_complete::Shell) {
    clap_complete::generate(shell, &mut cmd, "dbgov", &mut std::io::stdout());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_is_valid_and_holds_the_defaults() {
        let c = Config::from_yaml(SHIPPED_CONFIG).expect("parses");
        c.validate().expect("valid");
        let d = Config::default();
        // What the shipped file sets differently from the built-in defaults, on purpose: a
        // service writes to a file under its state directory and reads the installed policies.
        assert_eq!(c.output, "jsonl:/var/lib/dbgov/events.jsonl");
        assert_eq!(
            c.policy_dir.as_deref(),
            Some(Path::new("/etc/dbgov/policies"))
        );
        // Everything else is the default the comments state.
        let same = |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| {
            assert_eq!(format!("{a:?}"), format!("{b:?}"))
        };
        same(&c.postgres_ports, &d.postgres_ports);
        same(&c.mysql_ports, &d.mysql_ports);
        same(&c.postgres_sockets, &d.postgres_sockets);
        same(&c.mysql_sockets, &d.mysql_sockets);
        same(&c.format, &d.format);
        same(&c.state_dir, &d.state_dir);
        same(&c.spool, &d.spool);
        same(&c.kafka, &d.kafka);
        same(&c.checkpoint, &d.checkpoint);
        same(&c.keep_literals, &d.keep_literals);
        same(&c.record_params, &d.record_params);
        same(&c.max_statement_bytes, &d.max_statement_bytes);
        same(&c.identity, &d.identity);
        same(&c.tag_keys, &d.tag_keys);
        same(&c.labels, &d.labels);
        same(&c.ring_buffer_mib, &d.ring_buffer_mib);
        same(&c.ring_buffer_shed_percent, &d.ring_buffer_shed_percent);
        same(&c.scheduling, &d.scheduling);
        same(&c.tls_capture, &d.tls_capture);
        same(&c.syscall_hooks, &d.syscall_hooks);
        same(&c.metrics, &d.metrics);
        same(&c.proxy_control, &d.proxy_control);
        same(&c.environment, &d.environment);
        same(&c.signing_key, &d.signing_key);
    }

    #[test]
    fn problems_carry_line_numbers() {
        let f = Path::new("agent.yaml");
        let p = problems(f, "output: stdout\nmysql_ports: [3306]\nprots: [1]\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("agent.yaml:3:1: unknown field `prots`"),
            "{p:?}"
        );
        let p = problems(
            f,
            "output: stdout\nspool:\n  max_mib: 10\ncheckpoint:\n  events: 5\n  interval_secs: 600\n",
        );
        assert_eq!(
            p,
            vec!["agent.yaml:6: checkpoint.interval_secs: must be 1 to 60, got 600".to_string()]
        );
        let p = problems(f, "postgres_ports: [5432]\nmysql_ports:\n  - x\n");
        assert!(p[0].starts_with("agent.yaml:3:"), "{p:?}");
        let p = problems(f, "output: nowhere:x\n");
        assert!(p[0].starts_with("agent.yaml:1: output: "), "{p:?}");
        let p = problems(f, "policy_dir: /nonexistent/dbgov-policies\n");
        assert!(p[0].starts_with("agent.yaml:1: policy_dir: "), "{p:?}");
        let p = problems(f, "output: stdout\nring_buffer_shed_percent: 0\n");
        assert_eq!(
            p,
            vec![
                "agent.yaml:2: ring_buffer_shed_percent: must be 1 to 100 (100: never shed), got 0"
                    .to_string()
            ]
        );
        assert!(problems(f, "ring_buffer_shed_percent: 100\n").is_empty());
        assert!(problems(f, "output: stdout\n").is_empty());
    }
}
