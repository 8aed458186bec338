//! Builds the kernel programs in `agent-ebpf` with aya-build (nightly, `-Z build-std=core`,
//! bpf-linker) so that a plain `cargo build` embeds them into the `dbgov` binary.
//!
//! `AYA_BUILD_SKIP=1` skips the eBPF build (for pure unit tests and clippy on machines without
//! bpf-linker); the resulting binary refuses `dbgov run` with a clear message.
use std::{env, fs, path::PathBuf};

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
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "agent-ebpf",
            root_dir: &root,
            ..Default::default()
        }],
        aya_build::Toolchain::Nightly,
    )
}
