//! Shared by the PostgreSQL decoder targets: feeds arbitrary bytes in pieces of `step` bytes
//! and decodes after each piece, resynchronising after errors, as the session does.
use bytes::BytesMut;

/// The outcome of one `decode` call, without the message.
pub fn outcome<M, E>(r: Result<Option<M>, E>) -> Option<bool> {
    match r {
        Ok(Some(_)) => Some(true),
        Ok(None) => Some(false),
        Err(_) => None,
    }
}

/// `decode` gives [`outcome`]; `resync` the bytes it dropped.
pub fn drive<D>(
    d: &mut D,
    data: &[u8],
    step: usize,
    decode: impl Fn(&mut D, &mut BytesMut) -> Option<bool>,
    resync: impl Fn(&mut D, &mut BytesMut) -> usize,
) {
    let mut buf = BytesMut::new();
    for piece in data.chunks(step.max(1)) {
        buf.extend_from_slice(piece);
        for _ in 0..1000 {
            match decode(d, &mut buf) {
                Some(true) => {}
                Some(false) => break,
                None => {
                    if resync(d, &mut buf) == 0 {
                        break;
                    }
                }
            }
        }
    }
}
