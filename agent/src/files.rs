//! Files the agent writes that hold or point at the trail (JSON lines, `--record` captures,
//! the ready file): created mode 0600, never through a symlink, and never a file someone else
//! planted (another owner, or not a regular file).
use std::fs::File;
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

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

/// Why an instance lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot create the state directory {path}: {source}")]
    Dir { path: PathBuf, source: io::Error },
    #[error("cannot open the lock file {path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error(
        "another dbgov {what} is running with the state directory {dir}{pid} (it holds {path}); \
         a second one would report every statement twice. Stop it first \
         (`systemctl stop dbgov-{what}`), or give this one its own --state-dir"
    )]
    Held {
        what: String,
        dir: PathBuf,
        path: PathBuf,
        pid: String,
    },
}

/// An exclusive lock on `<state_dir>/<name>.lock`, held while the value lives (the kernel
/// releases it when the process ends, however it ends). The file holds the holder's pid.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
}

impl InstanceLock {
    /// Creates the state directory (mode 0700) if needed and takes the lock, or says who
    /// holds it.
    pub fn acquire(state_dir: &Path, name: &str) -> Result<Self, LockError> {
        use std::io::{Read, Seek, Write};
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(state_dir)
            .map_err(|source| LockError::Dir {
                path: state_dir.to_owned(),
                source,
            })?;
        let path = state_dir.join(format!("{name}.lock"));
        let open_err = |source| LockError::Open {
            path: path.clone(),
            source,
        };
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(open_err)?;
        match f.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut held = String::new();
                let _ = f.read_to_string(&mut held);
                let pid = match held.trim() {
                    "" => String::new(),
                    p => format!(" as pid {p}"),
                };
                return Err(LockError::Held {
                    what: name.to_owned(),
                    dir: state_dir.to_owned(),
                    path,
                    pid,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(open_err(e)),
        }
        f.set_len(0)
            .and_then(|()| f.rewind())
            .and_then(|()| writeln!(f, "{}", std::process::id()))
            .map_err(open_err)?;
        Ok(Self { _file: f })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_second_instance_lock_is_refused_with_the_holders_pid() {
        let dir = std::env::temp_dir().join(format!("dbgov-lock-{}/state", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = InstanceLock::acquire(&dir, "agent").expect("first");
        let mode = std::fs::metadata(&dir).expect("dir").permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let e = InstanceLock::acquire(&dir, "agent").expect_err("second");
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("pid {}", std::process::id())) && msg.contains("agent.lock"),
            "{msg}"
        );
        // Another name is another lock; the lock goes with its holder.
        let _proxy = InstanceLock::acquire(&dir, "proxy").expect("other name");
        drop(first);
        InstanceLock::acquire(&dir, "agent").expect("after the first is gone");
    }

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
