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

/// As [`member_offset`], over raw BTF bytes (little endian).
pub fn member_offset_in(data: &[u8], name: &str, member: &str) -> Result<Option<u32>, BtfError> {
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
        if kind == BTF_KIND_STRUCT && cstr(strings, name_off) == Some(name.as_bytes()) {
            for m in 0..vlen {
                let mo = i + 12 + 12 * m;
                let m_name = u32_at(types, mo).ok_or(bad("member"))? as usize;
                let m_off = u32_at(types, mo + 8).ok_or(bad("member"))?;
                if cstr(strings, m_name) == Some(member.as_bytes()) {
                    let bits = if kind_flag {
                        m_off & 0x00ff_ffff
                    } else {
                        m_off
                    };
                    return Ok(Some(bits / 8));
                }
            }
            return Ok(None);
        }
        i += 12 + extra;
    }
    Ok(None)
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
}
