use super::*;
use std::os::unix::net::{UnixListener, UnixStream};

#[test]
fn finds_the_peer_of_a_connected_unix_socket() {
    let dir = std::env::temp_dir().join(format!("dbgov-sockdiag-{}", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    let l = UnixListener::bind(&dir).unwrap();
    let c = UnixStream::connect(&dir).unwrap();
    let (s, _) = l.accept().unwrap();
    let me = std::process::id();
    let ci = socket_inode(me, c.as_raw_fd() as u32).unwrap();
    let si = socket_inode(me, s.as_raw_fd() as u32).unwrap();
    let mut d = SockDiag::open().unwrap();
    assert_eq!(d.peer(ci).unwrap(), Some(si));
    assert_eq!(d.peer(si).unwrap(), Some(ci));
    let _ = std::fs::remove_file(&dir);
}
