//! Per-connection conversation state: turns decoded protocol messages from both directions into
//! session facts and completed statements. Engine-specific state machines live in submodules and
//! share the types below, so everything after this stage is engine-agnostic.
pub mod mysql;
pub mod postgres;
pub mod types;

pub use types::*;
