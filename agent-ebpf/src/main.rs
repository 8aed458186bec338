//! The `agent-ebpf` object: built for `bpfel-unknown-none` by `agent/build.rs`.
//! The programs are in [`programs`]; on the host this binary is an empty stub.
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]

#[cfg(target_arch = "bpf")]
mod programs;

#[cfg(not(target_arch = "bpf"))]
fn main() {}
