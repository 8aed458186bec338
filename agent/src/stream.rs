//! Reassembly: rebuilds the ordered byte stream of one connection direction from captured
//! chunks. Each chunk carries its stream offset (kept by the kernel program), so a lost or
//! truncated chunk shows up as a hole, reported as an explicit gap instead of being glued over.

/// What the assembler hands on.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// In-order bytes.
    Data(&'a [u8]),
    /// `n` bytes that were never captured.
    Gap(u64),
}

/// Per-direction stream state.
#[derive(Clone, Debug, Default)]
pub struct Assembler {
    next: u64,
    /// Total bytes lost so far.
    pub lost: u64,
}

impl Assembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Offset of the next expected byte.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// Feeds a chunk at `offset`. Calls `f` with a gap (if bytes are missing before it) and then
    /// with the new bytes. Bytes already seen (a duplicate or overlap) are dropped.
    pub fn push<'a>(&mut self, offset: u64, data: &'a [u8], mut f: impl FnMut(Piece<'a>)) {
        let end = offset.saturating_add(data.len() as u64);
        if end <= self.next {
            return;
        }
        if offset > self.next {
            let missing = offset - self.next;
            self.lost += missing;
            f(Piece::Gap(missing));
            self.next = offset;
        }
        let skip = (self.next - offset) as usize;
        if let Some(fresh) = data.get(skip..) {
            if !fresh.is_empty() {
                f(Piece::Data(fresh));
            }
        }
        self.next = end;
    }

    /// The kernel captured this stream only up to `offset`, and the `missing` bytes after it
    /// were not captured (a syscall beyond the capture limit). Reports the hole now (with any
    /// earlier hole before `offset`) instead of when the next chunk arrives, so that the
    /// decoder places it before the peer's answer.
    pub fn skip(&mut self, offset: u64, missing: u64, mut f: impl FnMut(Piece<'_>)) {
        let end = offset.saturating_add(missing);
        if end <= self.next {
            return;
        }
        let n = end - self.next;
        self.lost += n;
        f(Piece::Gap(n));
        self.next = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(a: &mut Assembler, off: u64, d: &[u8]) -> Vec<String> {
        let mut v = Vec::new();
        a.push(off, d, |p| match p {
            Piece::Data(b) => v.push(String::from_utf8_lossy(b).into_owned()),
            Piece::Gap(n) => v.push(format!("<gap {n}>")),
        });
        v
    }

    #[test]
    fn in_order_gap_and_overlap() {
        let mut a = Assembler::new();
        assert_eq!(run(&mut a, 0, b"abc"), vec!["abc"]);
        assert_eq!(run(&mut a, 3, b"de"), vec!["de"]);
        assert_eq!(run(&mut a, 10, b"xy"), vec!["<gap 5>", "xy"]);
        assert_eq!(a.lost, 5);
        assert!(run(&mut a, 0, b"abc").is_empty());
        assert_eq!(run(&mut a, 11, b"yz"), vec!["z"]);
        assert_eq!(a.position(), 13);
    }

    #[test]
    fn a_reported_truncation_is_a_gap_at_once_and_not_again() {
        let mut a = Assembler::new();
        assert_eq!(run(&mut a, 0, b"abc"), vec!["abc"]);
        let mut gaps = Vec::new();
        a.skip(3, 10, |p| gaps.push(format!("{p:?}")));
        assert_eq!(gaps, vec!["Gap(10)"]);
        // The next chunk continues after the hole: no second gap.
        assert_eq!(run(&mut a, 13, b"de"), vec!["de"]);
        // A stale report changes nothing.
        a.skip(3, 10, |_| panic!("no gap"));
        assert_eq!(a.lost, 10);
    }
}
