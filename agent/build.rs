//! Builds the kernel programs in `agent-ebpf` with aya-build (nightly, `-Z build-std=core`,
//! bpf-linker) so that a plain `cargo build` embeds them into the `dbgov` binary.
//!
//! The kernel programs do not depend on the host profile (they are always built `--release`
//! for `bpfel-unknown-none`), so they are built once per target directory, in
//! `TARGET/aya-build-shared`, and copied into each profile's `OUT_DIR`: clippy, the test
//! profile and the release build would otherwise each build them (and `core`) again, about a
//! minute apiece on a cold cache.
//!
//! `AYA_BUILD_SKIP=1` skips the eBPF build (for pure unit tests and clippy on machines without
//! bpf-linker); the resulting binary refuses `dbgov run` with a clear message.
use std::{
    env, fs,
    path::{Path, PathBuf},
};

fn main() -> anyhow::Result<()> {
    println!("cargo::rerun-if-env-changed=AYA_BUILD_SKIP");
    let skip = env::var("AYA_BUILD_SKIP").map(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    let obj = out_dir.join("agent-ebpf");
    if skip.unwrap_or(false) {
        println!("cargo::rustc-cfg=ebpf_skipped");
        println!("cargo::rustc-check-cfg=cfg(ebpf_skipped)");
        if !obj.exists() {
            fs::write(&obj, b"")?;
        }
        return Ok(());
    }
    println!("cargo::rustc-check-cfg=cfg(ebpf_skipped)");
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let ebpf_dir = manifest.join("..").join("agent-ebpf");
    let root = ebpf_dir
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("non-UTF-8 path {}", ebpf_dir.display()))?
        .to_owned();
    println!(
        "cargo::rerun-if-changed={}",
        manifest.join("../agent-common/src").display()
    );
    // aya-build builds into `$OUT_DIR/aya-build` and copies the program to `$OUT_DIR`: point it
    // at the shared directory, then copy the program into this profile's own `OUT_DIR`.
    let shared = shared_dir(&out_dir);
    fs::create_dir_all(&shared)?;
    env::set_var("OUT_DIR", &shared);
    let built = aya_build::build_ebpf(
        [aya_build::Package {
            name: "agent-ebpf",
            root_dir: &root,
            ..Default::default()
        }],
        aya_build::Toolchain::Nightly,
    );
    env::set_var("OUT_DIR", &out_dir);
    built?;
    if shared != out_dir {
        fs::copy(shared.join("agent-ebpf"), &obj)?;
    }
    Ok(())
}

/// `TARGET/aya-build-shared` for an `OUT_DIR` of `TARGET[/TRIPLE]/PROFILE/build/dbgov-HASH/out`;
/// the `OUT_DIR` itself when it is not laid out that way.
fn shared_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .and_then(|build| build.parent())
        .and_then(|profile| profile.parent())
        .map(|target| target.join("aya-build-shared"))
        .unwrap_or_else(|| out_dir.to_path_buf())
}
