//! `cargo xtask package`: the .deb (cargo-deb) and a .tar.gz with the same files, for other
//! distributions. Man pages and shell completions are generated from the agent's clap
//! definition (`dbgov man`, `dbgov completions`).
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{cargo, cargo_bin, sh, step, target_dir};

/// The cargo-deb release `setup` installs.
pub const CARGO_DEB: &str = "cargo-deb@3.8.0";

/// What was built.
pub struct Packages {
    pub deb: PathBuf,
    pub tarball: PathBuf,
}

/// Installs cargo-deb unless this version is there.
pub fn ensure_cargo_deb() -> Result<()> {
    let want = CARGO_DEB.trim_start_matches("cargo-deb@");
    let v = crate::output(Command::new(cargo_bin("cargo-deb")).arg("--version"));
    if v.contains(want) {
        eprintln!("    already installed: {}", v.trim());
        return Ok(());
    }
    sh(cargo().args(["install", CARGO_DEB, "--locked"]))
}

pub fn main() -> Result<()> {
    let p = build()?;
    eprintln!("\n{}\n{}", p.deb.display(), p.tarball.display());
    Ok(())
}

/// Builds the release agent, its generated documentation, the .deb and the .tar.gz.
pub fn build() -> Result<Packages> {
    step("building the agent (release)");
    sh(cargo().args(["build", "--release", "-p", "dbgov"]))?;
    let release = target_dir().join("release");
    let bin = release.join("dbgov");

    step("man pages and shell completions from the command-line definition");
    let docs = release.join("package-docs");
    let _ = std::fs::remove_dir_all(&docs);
    let man = docs.join("man");
    sh(Command::new(&bin).arg("man").arg("--out").arg(&man))?;
    sh(Command::new("gzip").args(["-9", "-n", "-f"]).args(
        std::fs::read_dir(&man)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect::<Vec<_>>(),
    ))?;
    let comp = docs.join("completions");
    std::fs::create_dir_all(&comp)?;
    for (shell, file) in [
        ("bash", "dbgov.bash"),
        ("zsh", "_dbgov"),
        ("fish", "dbgov.fish"),
    ] {
        let out = Command::new(&bin)
            .args(["completions", shell])
            .output()
            .context("running dbgov completions")?;
        if !out.status.success() || out.stdout.is_empty() {
            bail!("dbgov completions {shell} failed");
        }
        std::fs::write(comp.join(file), &out.stdout)?;
    }

    step("the .deb (cargo-deb)");
    let out_dir = target_dir().join("package");
    let _ = std::fs::remove_dir_all(&out_dir);
    std::fs::create_dir_all(&out_dir)?;
    sh(cargo()
        .args(["deb", "-p", "dbgov", "--no-build", "--strip", "--output"])
        .arg(&out_dir))?;
    let deb = std::fs::read_dir(&out_dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .context("cargo deb wrote no .deb")?;

    step("the .tar.gz (the .deb's files, for other distributions)");
    let stage = out_dir.join("stage");
    sh(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&stage))?;
    let name = deb
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dbgov".into());
    let tarball = out_dir.join(format!("{name}.tar.gz"));
    sh(Command::new("tar")
        .arg("--owner=0")
        .arg("--group=0")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(&stage)
        .arg("."))?;
    std::fs::remove_dir_all(&stage)?;
    Ok(Packages { deb, tarball })
}
