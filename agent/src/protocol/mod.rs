//! Pure wire decoders: bytes in, messages out. No I/O, no tokio, no knowledge of where the bytes
//! come from (kernel capture, replay file or proxy socket).
pub mod mysql;
pub mod postgres;

/// Bytes as text, invalid UTF-8 replaced by U+FFFD: `String::from_utf8_lossy`, with the
/// usual case (valid text, nearly always ASCII) checked by `str::from_utf8`, which validates a
/// word at a time where the lossy scan goes byte by byte.
pub fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

/// Longest rendering of one bound parameter value, the same for both engines.
pub const MAX_PARAM_TEXT: usize = 4096;

/// Renders a string/blob value: UTF-8 when valid, `0x` hex otherwise, bounded.
pub fn bytes_to_text(b: &[u8]) -> String {
    let cut = b.len() > MAX_PARAM_TEXT;
    let head = &b[..b.len().min(MAX_PARAM_TEXT)];
    let mut out = match std::str::from_utf8(head) {
        Ok(s) => s.to_owned(),
        // A multi-byte character cut at the bound is still text.
        Err(e) if cut && e.error_len().is_none() => {
            String::from_utf8_lossy(&head[..e.valid_up_to()]).into_owned()
        }
        Err(_) => {
            let mut s = String::with_capacity(2 + 2 * head.len().min(MAX_PARAM_TEXT / 2));
            s.push_str("0x");
            for byte in head.iter().take(MAX_PARAM_TEXT / 2) {
                s.push_str(&format!("{byte:02x}"));
            }
            s
        }
    };
    if cut || out.len() > MAX_PARAM_TEXT + 2 {
        out.push_str(&format!("...({} bytes)", b.len()));
    }
    out
}

/// Renders a binary-format value as `\x` and hex, bounded like [`bytes_to_text`].
pub fn bytes_to_hex(b: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let head = &b[..b.len().min(MAX_PARAM_TEXT / 2)];
    let mut s = String::with_capacity(2 + 2 * head.len());
    s.push_str("\\x");
    for &x in head {
        s.push(D[(x >> 4) as usize] as char);
        s.push(D[(x & 15) as usize] as char);
    }
    if b.len() > head.len() {
        s.push_str(&format!("...({} bytes)", b.len()));
    }
    s
}

#[cfg(test)]
mod param_tests {
    use super::*;

    #[test]
    fn parameter_values_are_capped_alike() {
        let long = vec![b'a'; MAX_PARAM_TEXT + 5];
        let t = bytes_to_text(&long);
        assert!(t.ends_with(&format!("...({} bytes)", MAX_PARAM_TEXT + 5)));
        assert!(t.len() <= MAX_PARAM_TEXT + 32);
        let h = bytes_to_hex(&long);
        assert!(h.starts_with("\\x6161"));
        assert!(h.ends_with(&format!("...({} bytes)", MAX_PARAM_TEXT + 5)));
        assert!(h.len() <= MAX_PARAM_TEXT + 32);
        assert_eq!(bytes_to_hex(&[1, 0xab]), "\\x01ab");
        assert_eq!(bytes_to_text(b"short"), "short");
    }
}
