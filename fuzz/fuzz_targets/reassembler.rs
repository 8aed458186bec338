//! The stream reassembler with arbitrary chunk offsets and sizes (out of order, overlapping,
//! duplicated, with holes): it never panics, and never delivers more bytes than the stream
//! could hold.
#![no_main]
use dbgov::stream::{Assembler, Piece};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut a = Assembler::new();
    let mut rest = data;
    let mut highest = 0u64;
    let mut delivered = 0u64;
    while rest.len() >= 4 {
        let off = u64::from(u16::from_le_bytes([rest[0], rest[1]])) * 16;
        let len = (rest[2] as usize) | ((rest[3] as usize & 0x0f) << 8);
        rest = &rest[4..];
        let take = len.min(rest.len());
        let (chunk, tail) = rest.split_at(take);
        rest = tail;
        highest = highest.max(off + take as u64);
        a.push(off, chunk, |p| match p {
            Piece::Data(d) => delivered += d.len() as u64,
            Piece::Gap(n) => delivered += n,
        });
        assert!(delivered <= highest, "{delivered} > {highest}");
    }
});
