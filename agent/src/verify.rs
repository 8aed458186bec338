//! `dbgov verify`: checks the hash chain of a trail as stored (JSON lines). Per stream, `seq`
//! must run 1, 2, 3, ... and each event's `prev_hash` must be the previous event's `hash`,
//! and `hash` must be the SHA-256 of `prev_hash` followed by the line without its
//! `integrity` member (see `audit::Encoder`). Pure: lines in, a report out.
use std::collections::BTreeMap;

use crate::audit::{chain_hash, Integrity, INTEGRITY_KEY};

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
            Fault::Unreadable => "unreadable",
        }
    }
}

/// The first fault found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// 1-based line number in the input.
    pub line: usize,
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
}

struct StreamState {
    seq: u64,
    hash: String,
}

/// Checks the lines of a trail. Ok with a summary when every chain is intact.
pub fn check<'a>(lines: impl IntoIterator<Item = &'a str>) -> Result<Summary, Finding> {
    let lines: Vec<&str> = lines.into_iter().collect();
    // Every (stream, seq) present anywhere: a missing seq that appears later is a reorder,
    // not a deletion.
    let mut present: std::collections::HashSet<(String, u64)> = std::collections::HashSet::new();
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
    let mut streams: BTreeMap<String, StreamState> = BTreeMap::new();
    let mut sum = Summary::default();
    for (i, line) in lines.into_iter().enumerate() {
        let n = i + 1;
        let line = line.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            continue;
        }
        let bad = |fault, stream: Option<&str>, seq| Finding {
            line: n,
            stream: stream.map(str::to_owned),
            seq,
            fault,
        };
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|_| bad(Fault::Unreadable, None, None))?;
        let Some(integ) = v.get("integrity").cloned() else {
            return Err(bad(Fault::Inserted, None, None));
        };
        let integ: Integrity =
            serde_json::from_value(integ).map_err(|_| bad(Fault::Inserted, None, None))?;
        let (stream, seq) = (integ.stream.as_str(), integ.seq);
        // The hashed bytes: the line up to its last integrity member, closed again.
        let Some(at) = line.rfind(INTEGRITY_KEY) else {
            return Err(bad(Fault::Modified, Some(stream), Some(seq)));
        };
        let mut body = line.as_bytes()[..at].to_vec();
        body.push(b'}');
        let st = streams.entry(integ.stream.clone()).or_insert(StreamState {
            seq: 0,
            hash: "0".repeat(64),
        });
        if seq <= st.seq {
            let fault = if seq == st.seq || seq == 0 {
                Fault::Inserted
            } else {
                Fault::Reordered
            };
            return Err(bad(fault, Some(stream), Some(seq)));
        }
        if seq > st.seq + 1 {
            let fault = if present.contains(&(integ.stream.clone(), st.seq + 1)) {
                Fault::Reordered
            } else {
                Fault::Deleted
            };
            return Err(bad(fault, Some(stream), Some(seq)));
        }
        if integ.prev_hash != st.hash {
            return Err(bad(Fault::Inserted, Some(stream), Some(seq)));
        }
        if chain_hash(&integ.prev_hash, &body) != integ.hash {
            return Err(bad(Fault::Modified, Some(stream), Some(seq)));
        }
        st.seq = seq;
        st.hash = integ.hash;
        sum.events += 1;
        *sum.streams.entry(integ.stream).or_default() += 1;
        if v["kind"] == "gap" {
            sum.gaps += 1;
        }
        if let Some(t) = v["time"].as_str() {
            if sum.first_time.is_none() {
                sum.first_time = Some(t.to_owned());
            }
            sum.last_time = Some(t.to_owned());
        }
    }
    Ok(sum)
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

    fn first_fault(lines: &[String]) -> Option<(usize, Fault)> {
        check(lines.iter().map(String::as_str))
            .err()
            .map(|f| (f.line, f.fault))
    }

    #[test]
    fn an_intact_chain_verifies() {
        let t = trail(5);
        let s = check(t.iter().map(String::as_str)).unwrap();
        assert_eq!(s.events, 5);
        assert_eq!(s.first_time.as_deref(), Some("t0"));
        assert_eq!(s.last_time.as_deref(), Some("t4"));
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
}
