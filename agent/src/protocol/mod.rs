//! Pure wire decoders: bytes in, messages out. No I/O, no tokio, no knowledge of where the bytes
//! come from (kernel capture, replay file or proxy socket).
pub mod mysql;
pub mod postgres;
