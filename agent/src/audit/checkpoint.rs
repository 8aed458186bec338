//! Signed checkpoints: at an interval and every N events, the agent signs (stream, seq range,
//! the hash of the last event, time) with Ed25519 and puts the signature on the chain as a
//! `checkpoint` event. Because each hash covers everything before it, one signature vouches
//! for the whole stream up to `last_seq`: whoever rewrites the trail and recomputes the chain
//! cannot forge it without the private key.
//!
//! Key files are hex text: `signing.key` holds the 32-byte secret seed (mode 0600),
//! `signing.pub` the 32-byte public key.
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::{hex, Kind};

/// Errors handling keys.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}: not a key file (expected 64 hex digits, as `dbgov keygen` writes)")]
    Format(PathBuf),
    #[error("{0}: not a valid Ed25519 public key")]
    Invalid(PathBuf),
    #[error("{0} already exists; remove it first to make a new key")]
    Exists(PathBuf),
    #[error("no randomness from the kernel: {0}")]
    Random(std::io::Error),
}

/// `checkpoint` of a checkpoint event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The first seq this checkpoint covers (the one after the previous checkpoint event).
    pub first_seq: u64,
    /// The last seq covered: the event just before this checkpoint.
    pub last_seq: u64,
    /// `integrity.hash` of the event at `last_seq`.
    pub last_hash: String,
    /// RFC 3339 time of signing.
    pub signed_at: String,
    /// The first 16 hex digits of SHA-256 over the public key.
    pub key_id: String,
    /// Ed25519 signature (hex) over [`message`].
    pub signature: String,
}

/// A checkpoint event as the agent writes it (reads back as [`super::Event`]).
#[derive(Serialize)]
pub struct CheckpointEvent<'a> {
    pub schema: &'a str,
    pub event_id: String,
    pub time: String,
    pub kind: Kind,
    pub host: &'a serde_json::value::RawValue,
    pub checkpoint: &'a Checkpoint,
}

/// The signed bytes.
pub fn message(stream: &str, first: u64, last: u64, last_hash: &str, signed_at: &str) -> Vec<u8> {
    format!("dbgov.checkpoint/v1\n{stream}\n{first}\n{last}\n{last_hash}\n{signed_at}\n")
        .into_bytes()
}

pub fn key_id(k: &VerifyingKey) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(k.as_bytes());
    hex(&d[..8])
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

pub fn sign(
    key: &SigningKey,
    key_id: &str,
    stream: &str,
    first: u64,
    last: u64,
    last_hash: &str,
    signed_at: &str,
) -> Checkpoint {
    let sig = key.sign(&message(stream, first, last, last_hash, signed_at));
    Checkpoint {
        first_seq: first,
        last_seq: last,
        last_hash: last_hash.to_owned(),
        signed_at: signed_at.to_owned(),
        key_id: key_id.to_owned(),
        signature: hex(&sig.to_bytes()),
    }
}

/// True when the signature is the key's over the checkpoint's fields in `stream`.
pub fn verify(key: &VerifyingKey, stream: &str, cp: &Checkpoint) -> bool {
    let Some(sig) = unhex(&cp.signature).and_then(|b| <[u8; 64]>::try_from(b).ok()) else {
        return false;
    };
    let sig = ed25519_dalek::Signature::from_bytes(&sig);
    key.verify_strict(
        &message(
            stream,
            cp.first_seq,
            cp.last_seq,
            &cp.last_hash,
            &cp.signed_at,
        ),
        &sig,
    )
    .is_ok()
}

fn read_hex32(path: &Path) -> Result<[u8; 32], KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_owned(),
        source,
    })?;
    unhex(&text)
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| KeyError::Format(path.to_owned()))
}

pub fn load_signing_key(path: &Path) -> Result<SigningKey, KeyError> {
    Ok(SigningKey::from_bytes(&read_hex32(path)?))
}

pub fn load_public_key(path: &Path) -> Result<VerifyingKey, KeyError> {
    VerifyingKey::from_bytes(&read_hex32(path)?).map_err(|_| KeyError::Invalid(path.to_owned()))
}

/// Writes `DIR/signing.key` (0600) and `DIR/signing.pub`; refuses to overwrite.
pub fn keygen(dir: &Path) -> Result<(PathBuf, PathBuf, String), KeyError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| KeyError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let (kp, pp) = (dir.join("signing.key"), dir.join("signing.pub"));
    for p in [&kp, &pp] {
        if p.exists() {
            return Err(KeyError::Exists(p.clone()));
        }
    }
    let mut seed = [0u8; 32];
    let mut got = 0;
    while got < seed.len() {
        // SAFETY: writes at most the remaining length into `seed`.
        let n = unsafe { libc::getrandom(seed[got..].as_mut_ptr().cast(), seed.len() - got, 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(KeyError::Random(e));
            }
            continue;
        }
        got += n as usize;
    }
    let key = SigningKey::from_bytes(&seed);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&kp)
        .map_err(io(&kp))?;
    writeln!(f, "{}", hex(&seed)).map_err(io(&kp))?;
    f.sync_all().map_err(io(&kp))?;
    let public = key.verifying_key();
    std::fs::write(&pp, format!("{}\n", hex(public.as_bytes()))).map_err(io(&pp))?;
    Ok((kp, pp, key_id(&public)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_any_change_breaks_them() {
        let k = SigningKey::from_bytes(&[1u8; 32]);
        let cp = sign(&k, "id", "s1", 1, 10, "ab", "t");
        assert!(verify(&k.verifying_key(), "s1", &cp));
        assert!(!verify(&k.verifying_key(), "s2", &cp));
        let mut bad = cp.clone();
        bad.last_seq = 11;
        assert!(!verify(&k.verifying_key(), "s1", &bad));
        let other = SigningKey::from_bytes(&[2u8; 32]);
        assert!(!verify(&other.verifying_key(), "s1", &cp));
    }

    #[test]
    fn keygen_writes_a_private_key_only_its_owner_reads() {
        use std::os::unix::fs::PermissionsExt;
        let d = std::env::temp_dir().join(format!("dbgov-keygen-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let (kp, pp, _) = keygen(&d).unwrap();
        assert_eq!(
            std::fs::metadata(&kp).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let k = load_signing_key(&kp).unwrap();
        assert_eq!(load_public_key(&pp).unwrap(), k.verifying_key());
        assert!(matches!(keygen(&d), Err(KeyError::Exists(_))));
        let _ = std::fs::remove_dir_all(&d);
    }
}
