//! TEMPORARY STUB written by the lead so the crate compiles; the MySQL helper replaces this
//! file wholesale with the real module.
use crate::session::{Conversation, Flow, SessionEvent, SessionInfo, SessionOptions};
pub struct MysqlSession {
    info: SessionInfo,
}
impl MysqlSession {
    pub fn new(_o: SessionOptions) -> Self {
        Self {
            info: SessionInfo::default(),
        }
    }
}
impl Conversation for MysqlSession {
    fn on_data(&mut self, _f: Flow, _d: &[u8], _t: u64, _o: &mut Vec<SessionEvent>) {}
    fn on_gap(&mut self, _f: Flow, _b: u64, _t: u64, _o: &mut Vec<SessionEvent>) {}
    fn on_close(&mut self, _t: u64, _o: &mut Vec<SessionEvent>) {}
    fn info(&self) -> &SessionInfo {
        &self.info
    }
}
