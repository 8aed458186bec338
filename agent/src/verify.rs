//! `dbgov verify`: checks the hash chain of a trail as stored. Per stream, `seq` must run
//! 1, 2, 3, ... and each event's `prev_hash` must be the previous event's `hash`, and `hash`
//! must be the SHA-256 of `prev_hash` followed by the line without its `integrity` member
//! (see `audit::Encoder`); with `context_hash`, the connection's context must hash to it, and
//! it stands in for the context in the hashed line (and so with `statement_hash` for the
//! `statement` value). With a public key, every checkpoint's
//! Ed25519 signature must hold and vouch for the hash of the event before it. Pure: lines in,
//! a report out.
//!
//! A JSON-lines file is one ordered copy: anything out of order in it is a fault. Events
//! read back from Kafka come from several partitions: each partition must be in order (after
//! dropping exact re-deliveries, which at-least-once delivery makes normal), and the
//! partitions are merged by stream and `seq` before the chain is checked.
use std::collections::{BTreeMap, HashMap, HashSet};

use ed25519_dalek::VerifyingKey;

use crate::audit::{chain_hash, checkpoint, context_hash, Checkpoint, Integrity, INTEGRITY_KEY};

/// What is wrong at the first bad event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The event's bytes are not the ones that were hashed.
    Modified,
    /// Events are missing before this one.
    Deleted,
    /// The event comes after a later one of its stream.
    Reordered,
    /// An event with this place in the stream was already seen, or the event has no place in
    /// any chain.
    Inserted,
    /// A checkpoint's signature does not verify under the public key, or it does not vouch
    /// for the chain as stored.
    BadSignature,
    /// The line is not an event.
    Unreadable,
}

impl Fault {
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Modified => "modified",
            Fault::Deleted => "deleted",
            Fault::Reordered => "reordered",
            Fault::Inserted => "inserted",
            Fault::BadSignature => "bad signature",
            Fault::Unreadable => "unreadable",
        }
    }
}

/// The first fault found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// 1-based line number in the input (JSON lines), 0 for Kafka.
    pub line: usize,
    /// Where, in words: `line 4` or `partition 2 offset 17`.
    pub at: String,
    pub stream: Option<String>,
    /// The `seq` of the bad event, when readable.
    pub seq: Option<u64>,
    pub fault: Fault,
}

/// What a successful check saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub events: u64,
    pub streams: BTreeMap<String, u64>,
    pub gaps: u64,
    pub first_time: Option<String>,
    pub last_time: Option<String>,
    /// Checkpoint events seen (their signatures checked when a key was given).
    pub checkpoints: u64,
    /// Signatures checked.
    pub signatures_checked: bool,
    /// The last checkpoint: (stream, last seq covered, signing time).
    pub last_checkpoint: Option<(String, u64, String)>,
    /// Events after the last checkpoint of their stream (not yet signed).
    pub unsigned_tail: u64,
    /// Exact re-deliveries dropped (Kafka, at-least-once).
    pub duplicates: u64,
}

/// One event as the chain sees it.
struct Parsed {
    integ: Integrity,
    /// The hashed bytes are the ones stored.
    body_ok: bool,
    gap: bool,
    time: Option<String>,
    checkpoint: Option<Checkpoint>,
}

fn parse(line: &str) -> Result<Parsed, (Fault, Option<(String, u64)>)> {
    let v: serde_json::Value = serde_json::from_str(line).map_err(|_| (Fault::Unreadable, None))?;
    let Some(integ) = v.get("integrity").cloned() else {
        return Err((Fault::Inserted, None));
    };
    let integ: Integrity = serde_json::from_value(integ).map_err(|_| (Fault::Inserted, None))?;
    // The hashed bytes: the line up to its last integrity member, closed again.
    let Some(at) = line.rfind(INTEGRITY_KEY) else {
        return Err((Fault::Modified, Some((integ.stream, integ.seq))));
    };
    let mut body = line.as_bytes()[..at].to_vec();
    body.push(b'}');
    let body_ok = match (&integ.context_hash, &integ.statement_hash) {
        (None, None) => chain_hash(&integ.prev_hash, &body) == integ.hash,
        // The context is hashed apart: it must hash to `context_hash`, which stands in for it
        // in the line the chain hashes; so must the statement value, with `statement_hash`.
        (Some(ch), sh) => spans(line).is_some_and(|(c, s)| {
            let mut apart = vec![(c, ch)];
            if let Some(sh) = sh {
                match s {
                    Some(s) => apart.push((s, sh)),
                    None => return false,
                }
            }
            let mut hashed = Vec::with_capacity(body.len());
            let mut from = 0;
            for (span, hex) in apart {
                if span.start < from
                    || span.end > at
                    || context_hash(&line.as_bytes()[span.clone()]) != hex.as_bytes()
                {
                    return false;
                }
                hashed.extend_from_slice(&body[from..span.start]);
                hashed.extend_from_slice(hex.as_bytes());
                from = span.end;
            }
            hashed.extend_from_slice(&body[from..]);
            chain_hash(&integ.prev_hash, &hashed) == integ.hash
        }),
        // A statement hashed apart comes only with its context.
        (None, Some(_)) => false,
    };
    // Native events carry `kind`; OCSF ones keep it under `unmapped`.
    let kind = v["kind"]
        .as_str()
        .or_else(|| v["unmapped"]["kind"].as_str())
        .unwrap_or("");
    let cp = if kind == "checkpoint" {
        let c = v
            .get("checkpoint")
            .or_else(|| v["unmapped"].get("checkpoint"));
        c.and_then(|c| serde_json::from_value::<Checkpoint>(c.clone()).ok())
    } else {
        None
    };
    let time = v["time"]
        .as_str()
        .or_else(|| v["time_dt"].as_str())
        .map(str::to_owned);
    Ok(Parsed {
        integ,
        body_ok,
        gap: kind == "gap",
        time,
        checkpoint: cp,
    })
}

/// The top-level members that make up a connection's context, in their order.
#[derive(serde::Deserialize)]
struct ContextMembers<'a> {
    #[serde(borrow)]
    host: &'a serde_json::value::RawValue,
    #[serde(borrow)]
    client: &'a serde_json::value::RawValue,
    #[serde(borrow)]
    server: &'a serde_json::value::RawValue,
    #[serde(borrow)]
    db: &'a serde_json::value::RawValue,
    #[serde(borrow)]
    session: &'a serde_json::value::RawValue,
    /// The `statement` value, on a statement event.
    #[serde(borrow, default)]
    statement: Option<&'a serde_json::value::RawValue>,
}

/// Where `line`'s context is: from the `"host"` key to the end of the `session` value, the five
/// members written one after the other as the agent writes them (compact, in this order); and
/// where its top-level `statement` value is, if it has one (its bytes, from `{` to `}`).
type Spans = (std::ops::Range<usize>, Option<std::ops::Range<usize>>);

fn spans(line: &str) -> Option<Spans> {
    let m: ContextMembers = serde_json::from_str(line).ok()?;
    let base = line.as_ptr() as usize;
    let at = |v: &serde_json::value::RawValue| {
        let start = (v.get().as_ptr() as usize).checked_sub(base)?;
        Some((start, start + v.get().len()))
    };
    let statement = match m.statement {
        Some(v) => Some(at(v).map(|(a, b)| a..b)?),
        None => None,
    };
    let mut start = None;
    let mut end = 0;
    for (key, v) in [
        ("\"host\":", m.host),
        (",\"client\":", m.client),
        (",\"server\":", m.server),
        (",\"db\":", m.db),
        (",\"session\":", m.session),
    ] {
        let (vs, ve) = at(v)?;
        let ks = vs.checked_sub(key.len())?;
        match start {
            None => {
                // The context follows a member (or the opening brace) directly.
                if !matches!(line.as_bytes().get(ks.checked_sub(1)?), Some(b',' | b'{')) {
                    return None;
                }
                start = Some(ks);
            }
            Some(_) if ks != end => return None,
            Some(_) => {}
        }
        if line.get(ks..vs)? != key {
            return None;
        }
        end = ve;
    }
    Some((start?..end, statement))
}

struct StreamState {
    seq: u64,
    hash: String,
    /// Seq of the last checkpoint event.
    cp_seq: u64,
}

/// The chain check proper, fed each stream's events in seq order.
struct Chain<'k> {
    streams: BTreeMap<String, StreamState>,
    sum: Summary,
    key: Option<&'k VerifyingKey>,
}

impl<'k> Chain<'k> {
    fn new(key: Option<&'k VerifyingKey>) -> Self {
        Self {
            streams: BTreeMap::new(),
            sum: Summary {
                signatures_checked: key.is_some(),
                ..Default::default()
            },
            key,
        }
    }

    fn state(&mut self, stream: &str) -> &mut StreamState {
        self.streams
            .entry(stream.to_owned())
            .or_insert_with(|| StreamState {
                seq: 0,
                hash: "0".repeat(64),
                cp_seq: 0,
            })
    }

    /// The event follows its stream's last event (seq checked by the caller).
    fn accept(&mut self, p: Parsed) -> Result<(), Fault> {
        let key = self.key;
        let st = self.state(&p.integ.stream);
        if p.integ.prev_hash != st.hash {
            return Err(Fault::Inserted);
        }
        if !p.body_ok {
            return Err(Fault::Modified);
        }
        if let Some(cp) = &p.checkpoint {
            // It must vouch for exactly the events since the previous checkpoint, ending
            // with the event just before it.
            let vouches = cp.last_seq + 1 == p.integ.seq
                && cp.first_seq == st.cp_seq + 1
                && cp.last_hash == st.hash;
            if let Some(k) = key {
                if !vouches || !checkpoint::verify(k, &p.integ.stream, cp) {
                    return Err(Fault::BadSignature);
                }
            }
            st.cp_seq = p.integ.seq;
        }
        st.seq = p.integ.seq;
        st.hash = p.integ.hash.clone();
        let s = &mut self.sum;
        s.events += 1;
        *s.streams.entry(p.integ.stream.clone()).or_default() += 1;
        if p.gap {
            s.gaps += 1;
        }
        if let Some(cp) = p.checkpoint {
            s.checkpoints += 1;
            s.last_checkpoint = Some((p.integ.stream.clone(), cp.last_seq, cp.signed_at));
        }
        if let Some(t) = p.time {
            if s.first_time.as_ref().is_none_or(|f| &t < f) {
                s.first_time = Some(t.clone());
            }
            if s.last_time.as_ref().is_none_or(|l| &t > l) {
                s.last_time = Some(t);
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Summary {
        self.sum.unsigned_tail = self.streams.values().map(|s| s.seq - s.cp_seq).sum();
        self.sum
    }
}

/// Checks the lines of one JSON-lines trail. Ok with a summary when every chain is intact
/// (and, with `key`, every checkpoint signature holds).
pub fn check<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    key: Option<&VerifyingKey>,
) -> Result<Summary, Finding> {
    let lines: Vec<&str> = lines.into_iter().collect();
    // Every (stream, seq) present anywhere: a missing seq that appears later is a reorder,
    // not a deletion.
    let mut present: HashSet<(String, u64)> = HashSet::new();
    for l in &lines {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(l) {
            if let (Some(s), Some(q)) = (
                v["integrity"]["stream"].as_str(),
                v["integrity"]["seq"].as_u64(),
            ) {
                present.insert((s.to_owned(), q));
            }
        }
    }
    let mut c = LineCheck::new(key);
    for line in lines {
        if let Err(mut f) = c.push(line) {
            if f.fault == Fault::Deleted {
                if let Some(missing) = c.missing() {
                    if present.contains(&missing) {
                        f.fault = Fault::Reordered;
                    }
                }
            }
            return Err(f);
        }
    }
    Ok(c.finish())
}

/// [`check`] fed one line at a time, keeping only what the chain needs (ids and hashes), for
/// trails too large to hold. A jump in a stream's `seq` is reported as [`Fault::Deleted`];
/// [`LineCheck::missing`] then names the first missing event, so that a caller able to read
/// the input again can tell a reorder (it appears later) from a deletion.
pub struct LineCheck<'k> {
    chain: Chain<'k>,
    line: usize,
    missing: Option<(String, u64)>,
}

impl<'k> LineCheck<'k> {
    pub fn new(key: Option<&'k VerifyingKey>) -> Self {
        Self {
            chain: Chain::new(key),
            line: 0,
            missing: None,
        }
    }

    /// The next line of the input.
    pub fn push(&mut self, line: &str) -> Result<(), Finding> {
        self.line += 1;
        let n = self.line;
        let line = line.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            return Ok(());
        }
        let bad = |fault, stream: Option<&str>, seq| Finding {
            line: n,
            at: format!("line {n}"),
            stream: stream.map(str::to_owned),
            seq,
            fault,
        };
        let p = parse(line).map_err(|(f, id)| match id {
            Some((s, q)) => bad(f, Some(&s), Some(q)),
            None => bad(f, None, None),
        })?;
        let (stream, seq) = (p.integ.stream.clone(), p.integ.seq);
        let st_seq = self.chain.state(&stream).seq;
        if seq <= st_seq {
            let fault = if seq == st_seq || seq == 0 {
                Fault::Inserted
            } else {
                Fault::Reordered
            };
            return Err(bad(fault, Some(&stream), Some(seq)));
        }
        if seq > st_seq + 1 {
            self.missing = Some((stream.clone(), st_seq + 1));
            return Err(bad(Fault::Deleted, Some(&stream), Some(seq)));
        }
        self.chain
            .accept(p)
            .map_err(|f| bad(f, Some(&stream), Some(seq)))
    }

    /// After a [`Fault::Deleted`]: the (stream, seq) that was expected.
    pub fn missing(&self) -> Option<(String, u64)> {
        self.missing.clone()
    }

    pub fn finish(self) -> Summary {
        self.chain.finish()
    }
}

/// Checks events read back from a Kafka topic: `(partition, offset, line)` in the order each
/// partition returned them.
pub fn check_partitions(
    msgs: &[(i32, i64, Vec<u8>)],
    key: Option<&VerifyingKey>,
) -> Result<Summary, Finding> {
    let mut c = PartitionCheck::new(key);
    for (p, o, b) in msgs {
        c.push(*p, *o, b)?;
    }
    c.finish()
}

/// [`check_partitions`] fed one message at a time, so that a topic is checked as it is read:
/// only what the chain needs of each event is kept (ids and hashes), not the event itself.
pub struct PartitionCheck<'k> {
    key: Option<&'k VerifyingKey>,
    /// Per partition and stream: the highest seq seen.
    last: HashMap<(i32, String), u64>,
    merged: BTreeMap<(String, u64), (i32, i64, Parsed)>,
    duplicates: u64,
}

fn at_kafka(p: i32, o: i64, fault: Fault, id: Option<(String, u64)>) -> Finding {
    Finding {
        line: 0,
        at: format!("partition {p} offset {o}"),
        stream: id.as_ref().map(|x| x.0.clone()),
        seq: id.map(|x| x.1),
        fault,
    }
}

impl<'k> PartitionCheck<'k> {
    pub fn new(key: Option<&'k VerifyingKey>) -> Self {
        Self {
            key,
            last: HashMap::new(),
            merged: BTreeMap::new(),
            duplicates: 0,
        }
    }

    /// One message. Per partition and stream, seq must increase (exact re-deliveries of an
    /// event already seen are dropped: `Ok(false)`).
    pub fn push(&mut self, p: i32, o: i64, payload: &[u8]) -> Result<bool, Finding> {
        let line = std::str::from_utf8(payload)
            .map_err(|_| at_kafka(p, o, Fault::Unreadable, None))?
            .trim_end();
        let parsed = parse(line).map_err(|(f, id)| at_kafka(p, o, f, id))?;
        let id = (parsed.integ.stream.clone(), parsed.integ.seq);
        if let Some((_, _, seen)) = self.merged.get(&id) {
            if seen.integ.hash == parsed.integ.hash && parsed.body_ok {
                self.duplicates += 1;
                return Ok(false);
            }
            return Err(at_kafka(p, o, Fault::Inserted, Some(id)));
        }
        let l = self.last.entry((p, id.0.clone())).or_insert(0);
        if id.1 < *l {
            return Err(at_kafka(p, o, Fault::Reordered, Some(id)));
        }
        *l = id.1;
        self.merged.insert(id, (p, o, parsed));
        Ok(true)
    }

    /// Merges the partitions by stream and seq and checks the chains.
    pub fn finish(self) -> Result<Summary, Finding> {
        let mut chain = Chain::new(self.key);
        for ((stream, seq), (p, o, parsed)) in self.merged {
            let st_seq = chain.state(&stream).seq;
            if seq != st_seq + 1 {
                return Err(at_kafka(p, o, Fault::Deleted, Some((stream, seq))));
            }
            chain
                .accept(parsed)
                .map_err(|f| at_kafka(p, o, f, Some((stream.clone(), seq))))?;
        }
        let mut s = chain.finish();
        s.duplicates = self.duplicates;
        Ok(s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::audit::Encoder;

    fn trail(n: u64) -> Vec<String> {
        let mut e = Encoder::new("s1".into());
        (0..n)
            .map(|i| {
                let line = e
                    .encode(
                        &serde_json::json!({"kind": "statement", "time": format!("t{i}"), "n": i}),
                    )
                    .unwrap();
                String::from_utf8(line.to_vec()).unwrap()
            })
            .collect()
    }

    /// Statement events of two connections, interleaved, sealed as the agent seals them (the
    /// context hashed apart).
    fn statement_trail(n: u64) -> Vec<String> {
        use crate::audit::StatementEvent;
        use serde_json::value::RawValue;
        let raw = |s: &str| RawValue::from_string(s.to_string()).unwrap();
        let host = raw(r#"{"name":"h","id":null,"environment":null,"labels":{}}"#);
        let clients = [
            raw(r#"{"pid":1,"cmdline":"psql -c ?","purpose":null}"#),
            raw(r#"{"pid":2,"cmdline":"app \"x\"","purpose":null}"#),
        ];
        let server = raw(r#"{"pid":9,"exe":null,"addr":"127.0.0.1:5432"}"#);
        let db = raw(r#"{"engine":"postgresql","user":"u","name":"d","application":null}"#);
        let sessions = [
            raw(r#"{"id":"0000000000000001","tls":false}"#),
            raw(r#"{"id":"0000000000000002","tls":true}"#),
        ];
        let mut e = Encoder::new("s2".into());
        (0..n)
            .map(|i| {
                let c = (i % 2) as usize;
                let time = format!("t{i}");
                let text = format!("SELECT {i}");
                let ev = StatementEvent::bare(
                    "79a997a2-3db1-1b12-0000-00000000138b",
                    &time,
                    [&host, &clients[c], &server, &db, &sessions[c]],
                    Some(&text),
                );
                let mut out = Vec::new();
                e.encode_json_into(&ev, &mut out).unwrap();
                String::from_utf8(out).unwrap()
            })
            .collect()
    }

    #[test]
    fn a_context_hashed_apart_is_covered_by_the_chain() {
        use sha2::Digest;
        let t = statement_trail(6);
        let s = check(t.iter().map(String::as_str), None).unwrap();
        assert_eq!(s.events, 6);
        // The formula, computed here from the line's text alone.
        for line in &t {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let integ = &v["integrity"];
            let start = line.find("\"host\":").unwrap();
            let end = line.find(",\"statement\":").unwrap();
            let ctx = &line[start..end];
            let ch = integ["context_hash"].as_str().unwrap();
            assert_eq!(ch, crate::audit::hex(&sha2::Sha256::digest(ctx.as_bytes())));
            // The statement value: from after its key to the next top-level member.
            let s_start = end + ",\"statement\":".len();
            let s_end = line
                .find(",\"outcome\":")
                .or_else(|| line.find(",\"classification\":"))
                .unwrap();
            let sh = integ["statement_hash"].as_str().unwrap();
            assert_eq!(
                sh,
                crate::audit::hex(&sha2::Sha256::digest(&line.as_bytes()[s_start..s_end]))
            );
            let body = format!("{}}}", &line[..line.rfind(",\"integrity\":").unwrap()]);
            let hashed = format!(
                "{}{}{}{}{}",
                &body[..start],
                ch,
                &body[end..s_start],
                sh,
                &body[s_end..]
            );
            let want = crate::audit::hex(&sha2::Sha256::digest(
                format!("{}{hashed}", integ["prev_hash"].as_str().unwrap()).as_bytes(),
            ));
            assert_eq!(integ["hash"].as_str().unwrap(), want);
        }
        // The two connections' contexts hash differently.
        let ch = |l: &str| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["integrity"]["context_hash"].as_str().unwrap().to_owned()
        };
        assert_eq!(ch(&t[0]), ch(&t[2]));
        assert_ne!(ch(&t[0]), ch(&t[1]));
        // Tampering inside the context, with the context hash, inside the statement, with the
        // statement hash or the statement's place, or with the context's shape is found.
        for (i, from, to) in [
            (2, "\"pid\":1,", "\"pid\":7,"),
            (3, "app \\\"x\\\"", "app \\\"y\\\""),
            (4, "SELECT 4", "SELECT 5"),
            (2, "\"context_hash\":\"", "\"context_hash\":\"0"),
            (2, "\"statement_hash\":\"", "\"statement_hash\":\"0"),
            (2, ",\"statement\":", ",\"statement\":{},\"x\":"),
            (2, ",\"server\":", ",\"extra\":1,\"server\":"),
            (2, "\"host\":", "\"x\":1,\"host\":"),
        ] {
            let mut m = t.clone();
            let changed = m[i].replacen(from, to, 1);
            assert_ne!(changed, m[i], "{from}");
            m[i] = changed;
            assert_eq!(
                first_fault(&m),
                Some((i + 1, Fault::Modified)),
                "{from} -> {to}"
            );
        }
    }

    fn first_fault(lines: &[String]) -> Option<(usize, Fault)> {
        check(lines.iter().map(String::as_str), None)
            .err()
            .map(|f| (f.line, f.fault))
    }

    #[test]
    fn an_intact_chain_verifies() {
        let t = trail(5);
        let s = check(t.iter().map(String::as_str), None).unwrap();
        assert_eq!(s.events, 5);
        assert_eq!(s.first_time.as_deref(), Some("t0"));
        assert_eq!(s.last_time.as_deref(), Some("t4"));
        assert_eq!(s.unsigned_tail, 5);
        // Each line reads back as an object with its integrity member last.
        let v: serde_json::Value = serde_json::from_str(&t[2]).unwrap();
        assert_eq!(v["integrity"]["seq"], 3);
        assert_eq!(v["n"], 2);
    }

    #[test]
    fn each_kind_of_tampering_is_named() {
        let t = trail(6);
        let mut m = t.clone();
        m[2] = m[2].replace("\"n\":2", "\"n\":7");
        assert_eq!(first_fault(&m), Some((3, Fault::Modified)));
        let mut d = t.clone();
        d.remove(3);
        assert_eq!(first_fault(&d), Some((4, Fault::Deleted)));
        let mut r = t.clone();
        r.swap(1, 2);
        assert_eq!(first_fault(&r), Some((2, Fault::Reordered)));
        let mut i = t.clone();
        i.insert(3, t[2].clone());
        assert_eq!(first_fault(&i), Some((4, Fault::Inserted)));
        let mut u = t.clone();
        u.insert(1, "{\"kind\":\"statement\"}".into());
        assert_eq!(first_fault(&u), Some((2, Fault::Inserted)));
        let mut back = t.clone();
        back.swap(2, 4);
        assert_eq!(first_fault(&back), Some((3, Fault::Reordered)));
    }

    fn msgs(parts: &[(i32, &[usize])], t: &[String]) -> Vec<(i32, i64, Vec<u8>)> {
        let mut v = Vec::new();
        for (p, idx) in parts {
            for (o, &i) in idx.iter().enumerate() {
                v.push((*p, o as i64, t[i].clone().into_bytes()));
            }
        }
        v
    }

    #[test]
    fn partitions_are_merged_and_redeliveries_tolerated() {
        let t = trail(8);
        // Two partitions, each in order, a crash re-delivering 3 and 4.
        let m = msgs(&[(0, &[0, 2, 3, 4, 3, 4, 6]), (1, &[1, 5, 7])], &t);
        let s = check_partitions(&m, None).unwrap();
        assert_eq!((s.events, s.duplicates), (8, 2));
        // A hole, and a swap inside one partition, are named.
        let m = msgs(&[(0, &[0, 2, 4]), (1, &[1, 5])], &t);
        assert_eq!(
            check_partitions(&m, None).unwrap_err().fault,
            Fault::Deleted
        );
        let m = msgs(&[(0, &[0, 4, 2]), (1, &[1, 3])], &t);
        let f = check_partitions(&m, None).unwrap_err();
        assert_eq!(
            (f.fault, f.at.as_str()),
            (Fault::Reordered, "partition 0 offset 2")
        );
    }
}
