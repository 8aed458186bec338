//! Files the agent writes that hold or point at the trail (JSON lines, `--record` captures,
//! the ready file): created mode 0600, never through a symlink, and never a file someone else
//! planted (another owner, or not a regular file).
use std::fs::File;
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Opens `path` for writing (appending, or emptied with `truncate`), creating it with mode
/// 0600. Refuses a symlink, a file owned by another user, and anything but a regular file
/// (appending also accepts a FIFO or a character device).
pub fn open_private(path: &Path, truncate: bool) -> io::Result<File> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(!truncate)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "it is a symbolic link; refusing to write through it",
                )
            } else {
                e
            }
        })?;
    let m = f.metadata()?;
    // SAFETY: no preconditions.
    let me = unsafe { libc::geteuid() };
    use std::os::unix::fs::FileTypeExt;
    let t = m.file_type();
    // Appending to a FIFO or a device (`/dev/null`, a pipe to a shipper) is fine; emptying
    // anything but a regular file is not.
    if !(t.is_file() || (!truncate && (t.is_fifo() || t.is_char_device()))) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file; refusing to write to it",
        ));
    }
    if m.uid() != me {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "owned by uid {} (not this process's {me}); refusing to write to a file someone else created",
                m.uid()
            ),
        ));
    }
    if truncate {
        f.set_len(0)?;
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn private_files_refuse_symlinks_and_are_0600() {
        let dir = std::env::temp_dir().join(format!("dbgov-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let p = dir.join("events.jsonl");
        let _ = std::fs::remove_file(&p);
        let mut f = open_private(&p, false).expect("create");
        f.write_all(b"a\n").expect("write");
        let mode = std::fs::metadata(&p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Appending keeps, truncating empties.
        open_private(&p, false).expect("append");
        assert_eq!(std::fs::read(&p).expect("read"), b"a\n");
        open_private(&p, true).expect("truncate");
        assert!(std::fs::read(&p).expect("read").is_empty());
        let target = dir.join("target");
        std::fs::write(&target, b"keep").expect("target");
        let link = dir.join("link");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let e = open_private(&link, true).expect_err("a symlink is refused");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read(&target).expect("read"), b"keep");
        assert!(open_private(&dir, false).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
