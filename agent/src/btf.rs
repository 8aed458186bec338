//! Just enough of the kernel's BTF (`/sys/kernel/btf/vmlinux`) to find the byte offset of a
//! struct member, so the kernel programs can read `task_struct` fields without CO-RE: the
//! offset is passed to them as a global at load time. Bounds-checked; never panics.

/// Errors reading BTF.
#[derive(Debug, thiserror::Error)]
pub enum BtfError {
    #[error("cannot read {0}: {1}")]
    Read(&'static str, std::io::Error),
    #[error("malformed BTF: {0}")]
    Malformed(&'static str),
}

const BTF_KIND_STRUCT: u32 = 4;
const BTF_KIND_UNION: u32 = 5;

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

fn cstr(b: &[u8], i: usize) -> Option<&[u8]> {
    let s = b.get(i..)?;
    let end = s.iter().position(|&c| c == 0)?;
    s.get(..end)
}

/// Byte offset of `member` in `struct name` in the running kernel's BTF.
pub fn member_offset(name: &str, member: &str) -> Result<Option<u32>, BtfError> {
    let data = std::fs::read("/sys/kernel/btf/vmlinux")
        .map_err(|e| BtfError::Read("/sys/kernel/btf/vmlinux", e))?;
    member_offset_in(&data, name, member)
}

/// As [`member_offset`], over raw BTF bytes (little endian). Members of anonymous structs and
/// unions inside `name` (as `skc_num` in `sock_common`) are found too.
pub fn member_offset_in(data: &[u8], name: &str, member: &str) -> Result<Option<u32>, BtfError> {
    let t = Types::parse(data)?;
    let Some(id) = t.find_struct(name) else {
        return Ok(None);
    };
    Ok(t.find_member(id, member, 0, 0))
}

/// Offsets of several struct members in one read of the kernel's BTF: `(struct, member)`
/// pairs in, one `Option` per pair out.
pub fn member_offsets(pairs: &[(&str, &str)]) -> Result<Vec<Option<u32>>, BtfError> {
    let data = std::fs::read("/sys/kernel/btf/vmlinux")
        .map_err(|e| BtfError::Read("/sys/kernel/btf/vmlinux", e))?;
    let t = Types::parse(&data)?;
    Ok(pairs
        .iter()
        .map(|(s, m)| t.find_struct(s).and_then(|id| t.find_member(id, m, 0, 0)))
        .collect())
}

/// One BTF type record: where it starts in the type section, and its header fields.
struct TypeRec {
    at: usize,
    name_off: usize,
    kind: u32,
    vlen: usize,
    kind_flag: bool,
}

/// The type section indexed by type id (id 0 is `void`, so index `i` holds id `i + 1`).
struct Types<'a> {
    types: &'a [u8],
    strings: &'a [u8],
    recs: Vec<TypeRec>,
}

impl<'a> Types<'a> {
    fn parse(data: &'a [u8]) -> Result<Self, BtfError> {
        let bad = BtfError::Malformed;
        if data.get(0..2) != Some(&[0x9f, 0xeb]) {
            return Err(bad("bad magic"));
        }
        let hdr_len = u32_at(data, 4).ok_or(bad("header"))? as usize;
        let type_off = u32_at(data, 8).ok_or(bad("header"))? as usize;
        let type_len = u32_at(data, 12).ok_or(bad("header"))? as usize;
        let str_off = u32_at(data, 16).ok_or(bad("header"))? as usize;
        let types = data
            .get(hdr_len + type_off..hdr_len + type_off + type_len)
            .ok_or(bad("type section"))?;
        let strings = data.get(hdr_len + str_off..).ok_or(bad("string section"))?;
        let mut recs = Vec::new();
        let mut i = 0;
        while i + 12 <= types.len() {
            let name_off = u32_at(types, i).ok_or(bad("type"))? as usize;
            let info = u32_at(types, i + 4).ok_or(bad("type"))?;
            let kind = (info >> 24) & 0x1f;
            let vlen = (info & 0xffff) as usize;
            let kind_flag = info >> 31 == 1;
            let extra = match kind {
                1 => 4,             // INT
                3 => 12,            // ARRAY
                4 | 5 => 12 * vlen, // STRUCT, UNION
                6 => 8 * vlen,      // ENUM
                13 => 8 * vlen,     // FUNC_PROTO
                14 => 4,            // VAR
                15 => 12 * vlen,    // DATASEC
                17 => 4,            // DECL_TAG
                19 => 12 * vlen,    // ENUM64
                _ => 0, // PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FLOAT, TYPE_TAG
            };
            recs.push(TypeRec {
                at: i,
                name_off,
                kind,
                vlen,
                kind_flag,
            });
            i += 12 + extra;
        }
        Ok(Self {
            types,
            strings,
            recs,
        })
    }

    fn find_struct(&self, name: &str) -> Option<usize> {
        self.recs.iter().position(|r| {
            r.kind == BTF_KIND_STRUCT && cstr(self.strings, r.name_off) == Some(name.as_bytes())
        })
    }

    /// Byte offset of `member` in the struct or union at index `idx`, looking into anonymous
    /// members; `base` is the bit offset of that type in the outer struct.
    fn find_member(&self, idx: usize, member: &str, base: u32, depth: u32) -> Option<u32> {
        let r = self.recs.get(idx)?;
        if depth > 8 || !(r.kind == BTF_KIND_STRUCT || r.kind == BTF_KIND_UNION) {
            return None;
        }
        for m in 0..r.vlen {
            let mo = r.at + 12 + 12 * m;
            let m_name = u32_at(self.types, mo)? as usize;
            let m_type = u32_at(self.types, mo + 4)? as usize;
            let m_off = u32_at(self.types, mo + 8)?;
            let bits = base
                + if r.kind_flag {
                    m_off & 0x00ff_ffff
                } else {
                    m_off
                };
            if m_name == 0 {
                if let Some(o) = m_type
                    .checked_sub(1)
                    .and_then(|t| self.find_member(t, member, bits, depth + 1))
                {
                    return Some(o);
                }
            } else if cstr(self.strings, m_name) == Some(member.as_bytes()) {
                return Some(bits / 8);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_task_struct_members_on_this_kernel() {
        // This machine's kernel has BTF; `pid` and `tgid` are always in task_struct.
        let pid = super::member_offset("task_struct", "pid").unwrap().unwrap();
        let tgid = super::member_offset("task_struct", "tgid")
            .unwrap()
            .unwrap();
        assert_eq!(tgid, pid + 4);
        assert_eq!(
            super::member_offset("task_struct", "no_such_member").unwrap(),
            None
        );
    }

    #[test]
    fn finds_members_of_anonymous_unions() {
        // `skc_daddr`, `skc_rcv_saddr`, `skc_dport` and `skc_num` sit in anonymous structs
        // inside anonymous unions of `sock_common`; their layout has been stable for years.
        let got = super::member_offsets(&[
            ("sock_common", "skc_daddr"),
            ("sock_common", "skc_rcv_saddr"),
            ("sock_common", "skc_dport"),
            ("sock_common", "skc_num"),
            ("socket", "sk"),
            ("unix_sock", "peer"),
        ])
        .unwrap();
        assert_eq!(got[0], Some(0));
        assert_eq!(got[1], Some(4));
        assert_eq!(got[3].unwrap(), got[2].unwrap() + 2);
        assert!(got[4].is_some() && got[5].is_some());
    }
}
