//! dbgov: eBPF database-governance agent.
//!
//! The pipeline, one module per stage (see `shared/DESIGN.md`):
//! `capture` (kernel programs, ring buffer) -> `stream` (ordered bytes, gaps) -> `protocol`
//! (pure wire decoders) -> `session` (per-connection state, statements) -> `identity` (process
//! attribution) -> `judge` (one decision per request: `sql` analysis, `policy` classification
//! and rules) -> `audit` (events) ->
//! `sink` (outputs; `view` draws an event as one line for a person, `tail` follows a trail).
//! `pipeline` wires the userspace stages together so that live capture and
//! `dbgov replay` share every line after the kernel.
pub mod audit;
pub mod btf;
pub mod capture;
pub mod coalesce;
pub mod config;
pub mod control;
pub mod files;
pub mod identity;
pub mod judge;
pub mod metrics;
pub mod pipeline;
pub mod policy;
pub mod protocol;
pub mod proxy;
pub mod record;
pub mod redact;
pub mod report;
pub mod sched;
pub mod session;
pub mod sink;
pub mod sockdiag;
pub mod sql;
pub mod stream;
pub mod tail;
pub mod tls;
pub mod verify;
pub mod view;
