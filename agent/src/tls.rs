//! Stage: TLS record decryption (`tls_capture: keylog`).
//!
//! The syscall tracepoints capture a TLS connection's ciphertext like any other bytes. A uprobe
//! on OpenSSL 3's `EVP_KDF_derive` hands over the two TLS 1.3 application traffic secrets once
//! per handshake; with them this module decrypts the records in userspace and returns the
//! plaintext the protocol decoders read. Steady-state traffic then costs the tracepoints only,
//! where the per-call `SSL_read`/`SSL_write` uprobes trap in every process that maps libssl,
//! the database server's included.
//!
//! Pure: no I/O. A secret carries no connection id, so it is matched by decrypting: the right
//! one opens a record (AEAD tags do not open with a wrong key), any other does not.
//!
//! What it cannot decrypt it says: TLS 1.2 (its keys come from another derivation), a record
//! that will not open, a stream that stops parsing as records. The caller turns each into a
//! `gap` event, and a session whose secret never arrives stays not inspectable.

use ring::{aead, hkdf};

/// Index of a direction: what the client sends (requests).
pub const CLIENT_TO_SERVER: usize = 0;
/// What the server sends (responses).
pub const SERVER_TO_CLIENT: usize = 1;

/// Largest TLS 1.3 ciphertext record body (RFC 8446 5.2: 2^14 + 256).
const MAX_RECORD: usize = 16384 + 256;
/// Encrypted records kept per direction while its secret has not arrived.
const MAX_WAITING_BYTES: usize = 256 * 1024;
/// After a hole in the stream, how many record sequence numbers ahead a record is tried.
const RESYNC_WINDOW: u64 = 64;
/// Bytes scanned for a record header after a hole before the direction is given up.
const MAX_RESYNC_SCAN: usize = 1 << 20;

const CONTENT_CCS: u8 = 20;
const CONTENT_HANDSHAKE: u8 = 22;
const CONTENT_APPDATA: u8 = 23;
const HANDSHAKE_SERVER_HELLO: u8 = 2;
const HANDSHAKE_KEY_UPDATE: u8 = 24;
const EXT_SUPPORTED_VERSIONS: u16 = 0x002b;
const TLS13: u16 = 0x0304;

/// The TLS 1.3 cipher suites (RFC 8446 B.4) OpenSSL offers by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    Aes128GcmSha256,
    Aes256GcmSha384,
    Chacha20Poly1305Sha256,
}

impl Suite {
    fn from_id(id: u16) -> Option<Self> {
        match id {
            0x1301 => Some(Self::Aes128GcmSha256),
            0x1302 => Some(Self::Aes256GcmSha384),
            0x1303 => Some(Self::Chacha20Poly1305Sha256),
            _ => None,
        }
    }

    fn hkdf(self) -> hkdf::Algorithm {
        match self {
            Self::Aes256GcmSha384 => hkdf::HKDF_SHA384,
            _ => hkdf::HKDF_SHA256,
        }
    }

    fn aead(self) -> &'static aead::Algorithm {
        match self {
            Self::Aes128GcmSha256 => &aead::AES_128_GCM,
            Self::Aes256GcmSha384 => &aead::AES_256_GCM,
            Self::Chacha20Poly1305Sha256 => &aead::CHACHA20_POLY1305,
        }
    }

    fn hash_len(self) -> usize {
        match self {
            Self::Aes256GcmSha384 => 48,
            _ => 32,
        }
    }

    /// The suites a secret of this length can belong to (its hash's output length).
    fn for_secret(len: usize) -> &'static [Suite] {
        match len {
            32 => &[Self::Aes128GcmSha256, Self::Chacha20Poly1305Sha256],
            48 => &[Self::Aes256GcmSha384],
            _ => &[],
        }
    }
}

/// The TLS 1.2 AEAD cipher suites (RFC 5288, RFC 7905), by what their records need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aead12 {
    Aes128Gcm,
    Aes256Gcm,
    Chacha20Poly1305,
}

impl Aead12 {
    fn from_id(id: u16) -> Option<Self> {
        match id {
            // RSA, DHE and ECDHE key exchange; RSA, DSS and ECDSA certificates.
            0x009c | 0x009e | 0x00a2 | 0xc02b | 0xc02f => Some(Self::Aes128Gcm),
            0x009d | 0x009f | 0x00a3 | 0xc02c | 0xc030 => Some(Self::Aes256Gcm),
            0xcca8..=0xccaa => Some(Self::Chacha20Poly1305),
            _ => None,
        }
    }

    fn aead(self) -> &'static aead::Algorithm {
        match self {
            Self::Aes128Gcm => &aead::AES_128_GCM,
            Self::Aes256Gcm => &aead::AES_256_GCM,
            Self::Chacha20Poly1305 => &aead::CHACHA20_POLY1305,
        }
    }

    /// The fixed IV from the key block: GCM's 4-byte salt, ChaCha20's 12 bytes.
    fn iv_len(self) -> usize {
        match self {
            Self::Chacha20Poly1305 => 12,
            _ => 4,
        }
    }

    /// Bytes before the ciphertext in a record: GCM's explicit nonce.
    fn explicit_len(self) -> usize {
        match self {
            Self::Chacha20Poly1305 => 0,
            _ => 8,
        }
    }
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label(secret, label, "", out.len()) (RFC 8446 7.1).
fn expand_label(alg: hkdf::Algorithm, secret: &[u8], label: &[u8], out: &mut [u8]) -> Option<()> {
    let prk = hkdf::Prk::new_less_safe(alg, secret);
    let len = u16::try_from(out.len()).ok()?.to_be_bytes();
    let label_len = [u8::try_from(6 + label.len()).ok()?];
    let info: [&[u8]; 5] = [&len, &label_len, b"tls13 ", label, &[0]];
    prk.expand(&info, Len(out.len())).ok()?.fill(out).ok()
}

/// One direction's record protection: key, IV and the next sequence number.
struct Keys {
    suite: Suite,
    secret: Vec<u8>,
    key: aead::LessSafeKey,
    iv: [u8; 12],
    seq: u64,
    /// TLS 1.2 records (explicit nonce, sequence number in the additional data, the content
    /// type in the header); `suite` and `secret` are then unused.
    tls12: Option<Aead12>,
}

impl Keys {
    fn new(suite: Suite, secret: &[u8]) -> Option<Self> {
        let alg = suite.aead();
        let mut key = [0u8; 32];
        let key = &mut key[..alg.key_len()];
        expand_label(suite.hkdf(), secret, b"key", key)?;
        let mut iv = [0u8; 12];
        expand_label(suite.hkdf(), secret, b"iv", &mut iv)?;
        let key = aead::LessSafeKey::new(aead::UnboundKey::new(alg, key).ok()?);
        Some(Self {
            suite,
            secret: secret.to_vec(),
            key,
            iv,
            seq: 0,
            tls12: None,
        })
    }

    /// One direction of a TLS 1.2 key block.
    fn tls12(a: Aead12, key: &[u8], fixed_iv: &[u8]) -> Option<Self> {
        let mut iv = [0u8; 12];
        iv.get_mut(..fixed_iv.len())?.copy_from_slice(fixed_iv);
        Some(Self {
            suite: Suite::Aes128GcmSha256,
            secret: Vec::new(),
            key: aead::LessSafeKey::new(aead::UnboundKey::new(a.aead(), key).ok()?),
            iv,
            seq: 0,
            tls12: Some(a),
        })
    }

    /// Opens a TLS 1.2 record: its content type (from the header) and plaintext.
    fn open12<'a>(&self, a: Aead12, seq: u64, record: &'a mut [u8]) -> Option<(u8, &'a [u8])> {
        let (header, body) = record.split_at_mut(5);
        let ex = a.explicit_len();
        let tag = a.aead().tag_len();
        let plain_len = body.len().checked_sub(ex + tag)?;
        let mut nonce = self.iv;
        if ex > 0 {
            nonce[4..].copy_from_slice(body.get(..ex)?);
        } else {
            for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
                *n ^= s;
            }
        }
        let mut ad = [0u8; 13];
        ad[..8].copy_from_slice(&seq.to_be_bytes());
        ad[8..11].copy_from_slice(&header[..3]);
        ad[11..].copy_from_slice(&u16::try_from(plain_len).ok()?.to_be_bytes());
        let plain = self
            .key
            .open_in_place(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(ad),
                &mut body[ex..],
            )
            .ok()?;
        Some((header[0], plain))
    }

    /// Opens `record` (header and body) as sequence number `seq`: the inner plaintext without
    /// its padding, and its content type.
    fn open<'a>(&self, seq: u64, record: &'a mut [u8]) -> Option<(u8, &'a [u8])> {
        if let Some(a) = self.tls12 {
            return self.open12(a, seq, record);
        }
        let (header, body) = record.split_at_mut(5);
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        let plain = self
            .key
            .open_in_place(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(&*header),
                body,
            )
            .ok()?;
        let end = plain.iter().rposition(|&b| b != 0)?;
        Some((plain[end], &plain[..end]))
    }

    /// A KeyUpdate: the next generation's secret (RFC 8446 7.2).
    fn update(&mut self) -> Option<()> {
        let mut next = vec![0u8; self.suite.hash_len()];
        expand_label(self.suite.hkdf(), &self.secret, b"traffic upd", &mut next)?;
        *self = Self::new(self.suite, &next)?;
        Some(())
    }
}

/// Something the caller reports as a gap (`tls_undecryptable`), with the bytes concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loss {
    pub bytes: u64,
    pub detail: &'static str,
    /// Where in the plaintext appended by the same call the hole is.
    pub at: usize,
}

#[derive(Default)]
struct Half {
    /// Bytes of a record not yet whole.
    buf: Vec<u8>,
    keys: Option<Keys>,
    /// Encrypted records (header and body) waiting for this direction's secret.
    waiting: Vec<Vec<u8>>,
    waiting_bytes: usize,
    /// Handshake bytes before encryption (the ServerHello is read from them).
    handshake: Vec<u8>,
    /// A hole in the stream: the next record boundary is searched for, and records are tried
    /// a few sequence numbers ahead.
    lost: bool,
    /// Given up: nothing more is decrypted in this direction.
    off: bool,
    /// TLS 1.2: this direction sent ChangeCipherSpec, so every later record is encrypted.
    ccs: bool,
    /// Ciphertext bytes this direction has decrypted or skipped; for loss reports.
    skipped: u64,
}

/// The TLS layer of one connection.
#[derive(Default)]
pub struct TlsSession {
    halves: [Half; 2],
    suite: Option<Suite>,
    /// The ServerHello chose TLS 1.2 with this AEAD suite.
    tls12: Option<Aead12>,
    /// Why this session cannot be decrypted at all (reported once).
    unsupported: Option<&'static str>,
}

impl TlsSession {
    pub fn new() -> Self {
        Self::default()
    }

    /// A session that decrypts nothing more (its loss was reported).
    pub fn closed() -> Self {
        let mut s = Self::default();
        for h in &mut s.halves {
            h.off = true;
        }
        s
    }

    /// Whether `dir` holds encrypted records it has no secret for yet.
    pub fn waiting(&self, dir: usize) -> bool {
        let h = &self.halves[dir];
        h.keys.is_none() && !h.off && !h.waiting.is_empty() && self.unsupported.is_none()
    }

    /// Whether this session cannot be decrypted (TLS 1.1 or older, a non-AEAD TLS 1.2 suite,
    /// an unknown cipher suite).
    pub fn unsupported(&self) -> Option<&'static str> {
        self.unsupported
    }

    /// Ciphertext of `dir`, in stream order. Plaintext is appended to `plain`; what could not
    /// be decrypted is returned for a gap.
    pub fn push(&mut self, dir: usize, data: &[u8], plain: &mut Vec<u8>) -> Option<Loss> {
        if self.halves[dir].off || self.unsupported.is_some() {
            return None;
        }
        // Records are opened in place in the direction's buffer, taken out meanwhile: one
        // copy of the ciphertext, not one more per record.
        let mut buf = std::mem::take(&mut self.halves[dir].buf);
        buf.extend_from_slice(data);
        let mut loss = None;
        let mut at = 0;
        loop {
            if self.halves[dir].lost {
                match find_record(&buf[at..]) {
                    Some(skip) => at += skip,
                    None => {
                        // Keep the last 4 bytes: a header may straddle the next push.
                        let keep = buf.len().saturating_sub(at).min(4);
                        at = buf.len() - keep;
                        if buf.len() > MAX_RESYNC_SCAN {
                            self.halves[dir].off = true;
                            return Some(Loss {
                                bytes: 0,
                                detail: "the TLS stream did not resynchronise after a hole",
                                at: plain.len(),
                            });
                        }
                        break;
                    }
                }
            }
            let rest = &buf[at..];
            if rest.len() < 5 {
                break;
            }
            let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
            if !(CONTENT_CCS..=CONTENT_APPDATA + 1).contains(&rest[0])
                || rest[1] != 3
                || len > MAX_RECORD
            {
                self.halves[dir].off = true;
                return Some(Loss {
                    bytes: 0,
                    detail: "the connection's bytes are not TLS records",
                    at: plain.len(),
                });
            }
            if rest.len() < 5 + len {
                break;
            }
            // Looking for a boundary after a hole, `sealed` tries the record on copies, so a
            // record that is not one leaves these bytes as they were.
            match self.record(dir, &mut buf[at..at + 5 + len], plain) {
                Step::Next(l) => {
                    at += 5 + len;
                    if let Some(l) = l {
                        loss = Some(merge(loss, l));
                    }
                }
                // Looking for a boundary after a hole, and this was not one: search on from
                // the next byte.
                Step::NotARecord => at += 1,
            }
            if self.halves[dir].off || self.unsupported.is_some() {
                break;
            }
        }
        if self.halves[dir].off {
            return loss;
        }
        if at >= buf.len() {
            buf.clear();
        } else {
            buf.drain(..at);
        }
        self.halves[dir].buf = buf;
        loss
    }

    /// A hole of `n` bytes in `dir`: records are looked for again after it.
    pub fn gap(&mut self, dir: usize, n: u64) {
        let h = &mut self.halves[dir];
        h.buf.clear();
        h.lost = true;
        h.skipped += n;
    }

    /// Offers a secret for `dir`. True if it opens one of the waiting records: the keys are
    /// installed, and the plaintext of that record and of the ones after it is appended to
    /// `plain`. Records before it were sealed with handshake keys and are dropped.
    pub fn offer(&mut self, dir: usize, secret: &[u8], plain: &mut Vec<u8>) -> bool {
        if !self.waiting(dir) || self.tls12.is_some() {
            return false;
        }
        let suites: &[Suite] = match self.suite {
            Some(s) if s.hash_len() == secret.len() => match s {
                Suite::Aes128GcmSha256 => &[Suite::Aes128GcmSha256],
                Suite::Aes256GcmSha384 => &[Suite::Aes256GcmSha384],
                Suite::Chacha20Poly1305Sha256 => &[Suite::Chacha20Poly1305Sha256],
            },
            Some(_) => return false,
            None => Suite::for_secret(secret.len()),
        };
        for &suite in suites {
            let Some(keys) = Keys::new(suite, secret) else {
                continue;
            };
            let h = &mut self.halves[dir];
            let Some(first) = h.waiting.iter().position(|r| {
                let mut copy = r.clone();
                keys.open(0, &mut copy).is_some()
            }) else {
                continue;
            };
            let waiting = std::mem::take(&mut h.waiting);
            h.waiting_bytes = 0;
            h.keys = Some(keys);
            self.suite = Some(suite);
            for mut r in waiting.into_iter().skip(first) {
                let _ = self.sealed(dir, &mut r, plain);
            }
            return true;
        }
        false
    }

    /// Offers a TLS 1.2 key block (both directions' keys). True if it opens a waiting record
    /// of either direction (each direction's first encrypted record is its Finished): both
    /// directions' keys are installed and their waiting plaintext is appended to `plain`.
    pub fn offer_key_block(&mut self, block: &[u8], plain: &mut [Vec<u8>; 2]) -> bool {
        let Some(a) = self.tls12 else {
            return false;
        };
        if !(self.waiting(CLIENT_TO_SERVER) || self.waiting(SERVER_TO_CLIENT)) {
            return false;
        }
        // client_write_key, server_write_key, client_write_IV, server_write_IV (no MAC keys
        // for AEAD suites).
        let (k, iv) = (a.aead().key_len(), a.iv_len());
        if block.len() < 2 * (k + iv) {
            return false;
        }
        let keys = [
            Keys::tls12(a, &block[..k], &block[2 * k..2 * k + iv]),
            Keys::tls12(a, &block[k..2 * k], &block[2 * k + iv..2 * (k + iv)]),
        ];
        let [Some(c), Some(s)] = keys else {
            return false;
        };
        let opens = |h: &Half, keys: &Keys| {
            h.waiting.first().is_some_and(|r| {
                let mut copy = r.clone();
                keys.open(0, &mut copy).is_some()
            })
        };
        if !opens(&self.halves[CLIENT_TO_SERVER], &c) && !opens(&self.halves[SERVER_TO_CLIENT], &s)
        {
            return false;
        }
        for (dir, keys) in [(CLIENT_TO_SERVER, c), (SERVER_TO_CLIENT, s)] {
            let h = &mut self.halves[dir];
            if h.off || h.keys.is_some() {
                continue;
            }
            h.keys = Some(keys);
            h.waiting_bytes = 0;
            for mut r in std::mem::take(&mut h.waiting) {
                let _ = self.sealed(dir, &mut r, &mut plain[dir]);
            }
        }
        true
    }

    fn record(&mut self, dir: usize, record: &mut [u8], plain: &mut Vec<u8>) -> Step {
        let kind = record[0];
        let h = &mut self.halves[dir];
        if self.tls12.is_some() {
            // TLS 1.2: after ChangeCipherSpec every record is encrypted, whatever its type.
            if kind == CONTENT_CCS {
                h.ccs = true;
                return Step::Next(None);
            }
            if h.ccs {
                return self.sealed(dir, record, plain);
            }
            return Step::Next(None);
        }
        match kind {
            CONTENT_HANDSHAKE if h.keys.is_none() => {
                if dir == SERVER_TO_CLIENT && self.suite.is_none() {
                    h.handshake.extend_from_slice(&record[5..]);
                    match server_hello(&h.handshake) {
                        Hello::Incomplete if h.handshake.len() < 64 * 1024 => {}
                        Hello::Incomplete => h.handshake = Vec::new(),
                        Hello::Tls13(Some(s)) => {
                            self.suite = Some(s);
                            h.handshake = Vec::new();
                        }
                        Hello::Tls13(None) => {
                            self.unsupported = Some("the TLS 1.3 cipher suite is not supported");
                        }
                        Hello::Tls12(Some(a)) => {
                            self.tls12 = Some(a);
                            h.handshake = Vec::new();
                        }
                        Hello::Tls12(None) => {
                            self.unsupported = Some(
                                "TLS 1.2 with a cipher suite that is not AEAD (CBC): keylog capture decrypts AES-GCM and ChaCha20-Poly1305 (tls_capture: uprobe reads any suite)",
                            );
                        }
                        Hello::Older => {
                            self.unsupported = Some(
                                "TLS 1.1 or older: keylog capture decrypts TLS 1.2 and 1.3 (tls_capture: uprobe reads any version)",
                            );
                        }
                    }
                }
                Step::Next(None)
            }
            CONTENT_APPDATA => self.sealed(dir, record, plain),
            // ChangeCipherSpec (TLS 1.3 compatibility), plaintext alerts, heartbeats.
            _ => Step::Next(None),
        }
    }

    fn sealed(&mut self, dir: usize, record: &mut [u8], plain: &mut Vec<u8>) -> Step {
        let h = &mut self.halves[dir];
        let Some(keys) = h.keys.as_mut() else {
            if h.waiting_bytes + record.len() > MAX_WAITING_BYTES {
                // The secret is not coming (lost, or a handshake this agent did not see).
                let bytes = (h.waiting_bytes + record.len()) as u64;
                h.waiting = Vec::new();
                h.waiting_bytes = 0;
                h.off = true;
                return Step::Next(Some(Loss {
                    bytes,
                    detail: "no TLS secret arrived for this session",
                    at: plain.len(),
                }));
            }
            h.waiting_bytes += record.len();
            h.waiting.push(record.to_vec());
            return Step::Next(None);
        };
        // After a hole the record may be a few sequence numbers ahead: found on copies (a
        // failed open leaves its buffer unspecified), then opened in place.
        let mut seq = keys.seq;
        if h.lost {
            let Some(ahead) = (0..RESYNC_WINDOW).find(|a| {
                let mut copy = record.to_vec();
                keys.open(keys.seq + a, &mut copy).is_some()
            }) else {
                return Step::NotARecord;
            };
            seq += ahead;
        }
        let Some((kind, body)) = keys.open(seq, record) else {
            h.lost = true;
            return Step::Next(Some(Loss {
                bytes: record.len() as u64,
                detail: "a TLS record did not decrypt",
                at: plain.len(),
            }));
        };
        h.lost = false;
        keys.seq = seq + 1;
        match kind {
            CONTENT_APPDATA => plain.extend_from_slice(body),
            // NewSessionTicket is skipped; a KeyUpdate moves to the next secret.
            CONTENT_HANDSHAKE
                if keys.tls12.is_none()
                    && body.first() == Some(&HANDSHAKE_KEY_UPDATE)
                    && keys.update().is_none() =>
            {
                h.off = true;
                return Step::Next(Some(Loss {
                    bytes: 0,
                    detail: "a TLS key update could not be followed",
                    at: plain.len(),
                }));
            }
            // Other handshake messages, close_notify and other alerts.
            _ => {}
        }
        Step::Next(None)
    }
}

/// What became of a record.
enum Step {
    /// Consumed, with what could not be decrypted.
    Next(Option<Loss>),
    /// After a hole: not a record boundary after all.
    NotARecord,
}

fn merge(a: Option<Loss>, b: Loss) -> Loss {
    match a {
        Some(a) => Loss {
            bytes: a.bytes + b.bytes,
            detail: a.detail,
            at: a.at,
        },
        None => b,
    }
}

/// Offset of the first plausible application-data record header in `b`.
fn find_record(b: &[u8]) -> Option<usize> {
    b.windows(5).position(|w| {
        w[0] == CONTENT_APPDATA
            && w[1] == 3
            && w[2] == 3
            && usize::from(u16::from_be_bytes([w[3], w[4]])) <= MAX_RECORD
    })
}

enum Hello {
    Incomplete,
    Tls13(Option<Suite>),
    Tls12(Option<Aead12>),
    Older,
}

/// Reads the ServerHello from the server's plaintext handshake bytes.
fn server_hello(b: &[u8]) -> Hello {
    if b.len() < 4 {
        return Hello::Incomplete;
    }
    if b[0] != HANDSHAKE_SERVER_HELLO {
        return Hello::Older;
    }
    let len = (usize::from(b[1]) << 16) | (usize::from(b[2]) << 8) | usize::from(b[3]);
    let Some(m) = b.get(4..4 + len) else {
        return Hello::Incomplete;
    };
    // legacy_version(2) random(32) session_id<1> cipher_suite(2) compression(1) extensions<2>
    let parse = || -> Option<(u16, bool, u16)> {
        let sid = usize::from(*m.get(34)?);
        let at = 35 + sid;
        let suite = u16::from_be_bytes([*m.get(at)?, *m.get(at + 1)?]);
        // A TLS 1.2 ServerHello may end without extensions.
        let mut exts: &[u8] = if m.len() > at + 3 {
            let ext_len = usize::from(u16::from_be_bytes([*m.get(at + 3)?, *m.get(at + 4)?]));
            m.get(at + 5..at + 5 + ext_len)?
        } else {
            &[]
        };
        let legacy = u16::from_be_bytes([*m.first()?, *m.get(1)?]);
        let mut tls13 = false;
        while exts.len() >= 4 {
            let ty = u16::from_be_bytes([exts[0], exts[1]]);
            let l = usize::from(u16::from_be_bytes([exts[2], exts[3]]));
            let body = exts.get(4..4 + l)?;
            if ty == EXT_SUPPORTED_VERSIONS && body.len() == 2 {
                tls13 = u16::from_be_bytes([body[0], body[1]]) == TLS13;
            }
            exts = &exts[4 + l..];
        }
        Some((suite, tls13, legacy))
    };
    match parse() {
        Some((suite, true, _)) => Hello::Tls13(Suite::from_id(suite)),
        Some((suite, false, 0x0303)) => Hello::Tls12(Aead12::from_id(suite)),
        _ => Hello::Older,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seals `inner` (content type appended) as record `seq` of a direction keyed by `secret`.
    fn seal(suite: Suite, secret: &[u8], seq: u64, inner: &[u8], kind: u8) -> Vec<u8> {
        let keys = Keys::new(suite, secret).expect("keys");
        let mut body = inner.to_vec();
        body.push(kind);
        let len = body.len() + suite.aead().tag_len();
        let header = [CONTENT_APPDATA, 3, 3, (len >> 8) as u8, len as u8];
        let mut nonce = keys.iv;
        for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        keys.key
            .seal_in_place_append_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(header),
                &mut body,
            )
            .expect("seal");
        let mut r = header.to_vec();
        r.extend_from_slice(&body);
        r
    }

    fn server_hello_record(suite: u16, tls13: bool) -> Vec<u8> {
        let mut m = vec![3, 3];
        m.extend_from_slice(&[7u8; 32]);
        m.push(0);
        m.extend_from_slice(&suite.to_be_bytes());
        m.push(0);
        let mut exts = Vec::new();
        if tls13 {
            exts.extend_from_slice(&[0x00, 0x2b, 0x00, 0x02, 0x03, 0x04]);
        }
        m.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        m.extend_from_slice(&exts);
        let mut hs = vec![
            HANDSHAKE_SERVER_HELLO,
            0,
            (m.len() >> 8) as u8,
            m.len() as u8,
        ];
        hs.extend_from_slice(&m);
        let mut r = vec![
            CONTENT_HANDSHAKE,
            3,
            3,
            (hs.len() >> 8) as u8,
            hs.len() as u8,
        ];
        r.extend_from_slice(&hs);
        r
    }

    /// RFC 8448 (Example Handshake Traces for TLS 1.3), section 3: the server's application
    /// traffic secret and the key and IV derived from it.
    #[test]
    fn key_schedule_matches_rfc8448() {
        let secret = hex("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643");
        let keys = Keys::new(Suite::Aes128GcmSha256, &secret).expect("keys");
        assert_eq!(keys.iv.to_vec(), hex("cf782b88dd83549aadf1e984"));
        let mut key = [0u8; 16];
        expand_label(hkdf::HKDF_SHA256, &secret, b"key", &mut key).expect("key");
        assert_eq!(key.to_vec(), hex("9f02283b6c9c07efc26bb9f2ac92e356"));
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    #[test]
    fn records_wait_for_the_secret_and_handshake_records_are_skipped() {
        let suite = Suite::Aes256GcmSha384;
        let hs = [1u8; 48];
        let app = [2u8; 48];
        let mut t = TlsSession::new();
        let mut plain = Vec::new();
        let mut stream = server_hello_record(0x1302, true);
        stream.extend_from_slice(&[CONTENT_CCS, 3, 3, 0, 1, 1]);
        stream.extend(seal(
            suite,
            &hs,
            0,
            b"encrypted extensions",
            CONTENT_HANDSHAKE,
        ));
        stream.extend(seal(suite, &app, 0, b"ticket", CONTENT_HANDSHAKE));
        stream.extend(seal(suite, &app, 1, b"hello ", CONTENT_APPDATA));
        // Split mid-record: the tail arrives in a second push.
        let (a, b) = stream.split_at(stream.len() - 7);
        assert_eq!(t.push(SERVER_TO_CLIENT, a, &mut plain), None);
        assert_eq!(t.push(SERVER_TO_CLIENT, b, &mut plain), None);
        assert!(plain.is_empty());
        assert!(t.waiting(SERVER_TO_CLIENT));
        assert!(!t.offer(SERVER_TO_CLIENT, &hs[..32], &mut plain));
        assert!(!t.offer(SERVER_TO_CLIENT, &[9u8; 48], &mut plain));
        assert!(t.offer(SERVER_TO_CLIENT, &app, &mut plain));
        assert_eq!(plain, b"hello ");
        let r = seal(suite, &app, 2, b"world", CONTENT_APPDATA);
        assert_eq!(t.push(SERVER_TO_CLIENT, &r, &mut plain), None);
        assert_eq!(plain, b"hello world");
    }

    #[test]
    fn a_key_update_moves_to_the_next_secret() {
        let suite = Suite::Chacha20Poly1305Sha256;
        let app = [3u8; 32];
        let mut t = TlsSession::new();
        let mut plain = Vec::new();
        t.push(
            CLIENT_TO_SERVER,
            &seal(suite, &app, 0, b"a", CONTENT_APPDATA),
            &mut plain,
        );
        assert!(t.offer(CLIENT_TO_SERVER, &app, &mut plain));
        let update = [HANDSHAKE_KEY_UPDATE, 0, 0, 1, 0];
        t.push(
            CLIENT_TO_SERVER,
            &seal(suite, &app, 1, &update, CONTENT_HANDSHAKE),
            &mut plain,
        );
        let mut next = [0u8; 32];
        expand_label(hkdf::HKDF_SHA256, &app, b"traffic upd", &mut next).expect("upd");
        let r = seal(suite, &next, 0, b"b", CONTENT_APPDATA);
        assert_eq!(t.push(CLIENT_TO_SERVER, &r, &mut plain), None);
        assert_eq!(plain, b"ab");
    }

    #[test]
    fn after_a_hole_decryption_resumes_at_the_next_record() {
        let suite = Suite::Aes128GcmSha256;
        let app = [4u8; 32];
        let mut t = TlsSession::new();
        let mut plain = Vec::new();
        t.push(
            CLIENT_TO_SERVER,
            &seal(suite, &app, 0, b"one ", CONTENT_APPDATA),
            &mut plain,
        );
        assert!(t.offer(CLIENT_TO_SERVER, &app, &mut plain));
        // Records 1 and 2 are lost (half of 1 arrived), 3 arrives whole.
        let r1 = seal(suite, &app, 1, b"two ", CONTENT_APPDATA);
        t.push(CLIENT_TO_SERVER, &r1[..8], &mut plain);
        t.gap(CLIENT_TO_SERVER, 100);
        let mut noise = vec![0x17, 0x03, 0x03, 0x00, 0x10];
        noise.extend_from_slice(&[0u8; 16]);
        let mut tail = noise;
        tail.extend(seal(suite, &app, 3, b"four", CONTENT_APPDATA));
        assert_eq!(t.push(CLIENT_TO_SERVER, &tail, &mut plain), None);
        assert_eq!(plain, b"one four");
    }

    #[test]
    fn tls11_cbc_suites_and_garbage_are_reported() {
        let mut t = TlsSession::new();
        let mut plain = Vec::new();
        // ECDHE-RSA-AES256-SHA384: CBC.
        t.push(
            SERVER_TO_CLIENT,
            &server_hello_record(0xc028, false),
            &mut plain,
        );
        assert!(t.unsupported().is_some_and(|u| u.contains("CBC")));
        let mut t = TlsSession::new();
        let loss = t.push(CLIENT_TO_SERVER, b"SELECT 1", &mut plain);
        assert!(loss.is_some());
        assert!(plain.is_empty());
    }

    /// Seals a TLS 1.2 record the way RFC 5288 / RFC 7905 say.
    fn seal12(a: Aead12, key: &[u8], iv: &[u8], seq: u64, kind: u8, plain: &[u8]) -> Vec<u8> {
        let k = aead::LessSafeKey::new(aead::UnboundKey::new(a.aead(), key).expect("key"));
        let mut nonce = [0u8; 12];
        nonce[..iv.len()].copy_from_slice(iv);
        let explicit = (seq ^ 0x5a5a).to_be_bytes();
        if a.explicit_len() > 0 {
            nonce[4..].copy_from_slice(&explicit);
        } else {
            for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
                *n ^= s;
            }
        }
        let mut ad = seq.to_be_bytes().to_vec();
        ad.extend_from_slice(&[kind, 3, 3]);
        ad.extend_from_slice(&(plain.len() as u16).to_be_bytes());
        let mut body = plain.to_vec();
        k.seal_in_place_append_tag(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(ad),
            &mut body,
        )
        .expect("seal");
        let len = a.explicit_len() + body.len();
        let mut r = vec![kind, 3, 3, (len >> 8) as u8, len as u8];
        if a.explicit_len() > 0 {
            r.extend_from_slice(&explicit);
        }
        r.extend_from_slice(&body);
        r
    }

    #[test]
    fn tls12_aead_sessions_are_decrypted_with_the_key_block() {
        for (id, a) in [
            (0xc030u16, Aead12::Aes256Gcm),
            (0xc02f, Aead12::Aes128Gcm),
            (0xcca8, Aead12::Chacha20Poly1305),
        ] {
            let (k, iv) = (a.aead().key_len(), a.iv_len());
            let block: Vec<u8> = (0..2 * (k + iv)).map(|i| i as u8).collect();
            let (ck, sk) = (&block[..k], &block[k..2 * k]);
            let (civ, siv) = (&block[2 * k..2 * k + iv], &block[2 * k + iv..]);
            let mut t = TlsSession::new();
            let mut plain = Vec::new();
            let ccs = [CONTENT_CCS, 3, 3, 0, 1, 1];
            t.push(
                SERVER_TO_CLIENT,
                &server_hello_record(id, false),
                &mut plain,
            );
            assert_eq!(t.unsupported(), None, "{id:#x}");
            let mut c2s = ccs.to_vec();
            c2s.extend(seal12(a, ck, civ, 0, CONTENT_HANDSHAKE, b"finished"));
            c2s.extend(seal12(a, ck, civ, 1, CONTENT_APPDATA, b"query"));
            t.push(CLIENT_TO_SERVER, &c2s, &mut plain);
            assert!(plain.is_empty());
            assert!(t.waiting(CLIENT_TO_SERVER));
            let mut wrong = block.clone();
            wrong[0] ^= 1;
            let mut two = [Vec::new(), Vec::new()];
            assert!(!t.offer_key_block(&wrong[..k], &mut two), "too short");
            assert!(!t.offer_key_block(&wrong, &mut two), "wrong key");
            assert!(t.offer_key_block(&block, &mut two), "{id:#x}");
            assert_eq!(two[CLIENT_TO_SERVER], b"query");
            let mut s2c = ccs.to_vec();
            s2c.extend(seal12(a, sk, siv, 0, CONTENT_HANDSHAKE, b"finished"));
            s2c.extend(seal12(a, sk, siv, 1, CONTENT_APPDATA, b"rows"));
            let mut rows = Vec::new();
            assert_eq!(t.push(SERVER_TO_CLIENT, &s2c, &mut rows), None);
            assert_eq!(rows, b"rows", "{id:#x}");
        }
    }

    #[test]
    fn a_record_that_does_not_decrypt_is_a_loss() {
        let suite = Suite::Aes128GcmSha256;
        let app = [5u8; 32];
        let mut t = TlsSession::new();
        let mut plain = Vec::new();
        t.push(
            CLIENT_TO_SERVER,
            &seal(suite, &app, 0, b"x", CONTENT_APPDATA),
            &mut plain,
        );
        assert!(t.offer(CLIENT_TO_SERVER, &app, &mut plain));
        let mut bad = seal(suite, &app, 1, b"y", CONTENT_APPDATA);
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let loss = t.push(CLIENT_TO_SERVER, &bad, &mut plain).expect("loss");
        assert_eq!(loss.bytes, bad.len() as u64);
        assert_eq!(loss.at, 1, "after the plaintext already decrypted");
        // The next record still opens (tried a few sequence numbers ahead).
        let r = seal(suite, &app, 2, b"z", CONTENT_APPDATA);
        assert_eq!(t.push(CLIENT_TO_SERVER, &r, &mut plain), None);
        assert_eq!(plain, b"xz");
    }
}
