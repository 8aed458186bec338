//! Gap events per connection, coalesced: the first gap of a kind (reason and direction) on a
//! connection is reported at once; more of the same kind within the next second are counted
//! and reported as one gap event (`gap.events` = how many, `gap.bytes` = their sum) when the
//! second is over, another kind arrives, or the session ends. A client that sends a stream of
//! malformed frames so adds at most about one event per second per kind to the trail, and every
//! lost byte is still counted. Pure: the pipeline feeds it and writes what it returns.
use crate::audit::{Flow, GapReason};

/// The window within which gaps of one kind are counted together.
pub const WINDOW_NS: u64 = 1_000_000_000;

/// A gap to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GapOut {
    pub reason: GapReason,
    pub flow: Flow,
    pub bytes: u64,
    /// `None` for a single gap; the count for a coalesced one.
    pub events: Option<u64>,
    pub detail: Option<String>,
}

#[derive(Clone, Debug)]
struct Pending {
    reason: GapReason,
    flow: Flow,
    window_end: u64,
    bytes: u64,
    count: u64,
}

/// One connection's gap state.
#[derive(Clone, Debug, Default)]
pub struct Coalescer {
    pending: Option<Pending>,
}

impl Coalescer {
    /// A gap at `now_ns`: what to write now (a flushed coalesced gap, then this one, or
    /// nothing when it is counted into the open window).
    pub fn gap(
        &mut self,
        now_ns: u64,
        reason: GapReason,
        flow: Flow,
        bytes: u64,
        detail: Option<String>,
        out: &mut Vec<GapOut>,
    ) {
        if let Some(p) = self.pending.as_mut() {
            if p.reason == reason && p.flow == flow && now_ns < p.window_end {
                p.bytes += bytes;
                p.count += 1;
                return;
            }
        }
        self.flush(out);
        out.push(GapOut {
            reason,
            flow,
            bytes,
            events: None,
            detail,
        });
        self.pending = Some(Pending {
            reason,
            flow,
            window_end: now_ns.saturating_add(WINDOW_NS),
            bytes: 0,
            count: 0,
        });
    }

    /// Called as other events pass: writes the counted gaps once their window is over.
    pub fn tick(&mut self, now_ns: u64, out: &mut Vec<GapOut>) {
        if self
            .pending
            .as_ref()
            .is_some_and(|p| now_ns >= p.window_end)
        {
            self.flush(out);
        }
    }

    /// Writes what is counted (the session ends, or another kind of gap arrives).
    pub fn flush(&mut self, out: &mut Vec<GapOut>) {
        if let Some(p) = self.pending.take() {
            if p.count > 0 {
                out.push(GapOut {
                    reason: p.reason,
                    flow: p.flow,
                    bytes: p.bytes,
                    events: Some(p.count),
                    detail: Some(format!(
                        "{} more gaps of this kind on this connection within 1 s, counted together",
                        p.count
                    )),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_gaps_becomes_two_events_and_loses_no_count() {
        let mut c = Coalescer::default();
        let mut out = Vec::new();
        for i in 0..10_000u64 {
            c.gap(
                i * 1000,
                GapReason::DecodeError,
                Flow::ClientToServer,
                7,
                None,
                &mut out,
            );
        }
        assert_eq!(out.len(), 1, "the first is reported at once");
        c.tick(500_000_000, &mut out);
        assert_eq!(out.len(), 1, "still inside the window");
        c.tick(WINDOW_NS, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].events, Some(9_999));
        assert_eq!(out[1].bytes, 9_999 * 7);
        let total: u64 = out.iter().map(|g| g.events.unwrap_or(1)).sum();
        assert_eq!(total, 10_000);
    }

    #[test]
    fn another_kind_or_the_end_flushes_in_order() {
        let mut c = Coalescer::default();
        let mut out = Vec::new();
        c.gap(
            0,
            GapReason::DecodeError,
            Flow::ClientToServer,
            1,
            None,
            &mut out,
        );
        c.gap(
            1,
            GapReason::DecodeError,
            Flow::ClientToServer,
            2,
            None,
            &mut out,
        );
        c.gap(
            2,
            GapReason::MissingBytes,
            Flow::ServerToClient,
            3,
            None,
            &mut out,
        );
        assert_eq!(
            out.iter().map(|g| (g.reason, g.events)).collect::<Vec<_>>(),
            [
                (GapReason::DecodeError, None),
                (GapReason::DecodeError, Some(1)),
                (GapReason::MissingBytes, None)
            ]
        );
        c.flush(&mut out);
        assert_eq!(out.len(), 3, "nothing counted after the last one");
        // After the window a gap of the same kind is reported at once again.
        c.gap(
            5 * WINDOW_NS,
            GapReason::MissingBytes,
            Flow::ServerToClient,
            4,
            None,
            &mut out,
        );
        assert_eq!(out.len(), 4);
        assert_eq!(out[3].events, None);
    }
}
