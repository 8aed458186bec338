//! Adaptive CPU scheduling of the agent (`scheduling: adaptive`, the default).
//!
//! While the agent keeps up, its threads run as `SCHED_IDLE`: they get the CPU only when the
//! database and its clients leave it idle, so the agent's bursts of work never delay a query.
//! As soon as the kernel ring buffer holds more than a sixteenth of its size (the agent is
//! falling behind), every thread goes back to `SCHED_OTHER` at nice 0 and gets its fair share;
//! after two quiet seconds it yields again. The switch back needs `CAP_SYS_NICE` or an
//! `RLIMIT_NICE` that allows nice 0 (the unit sets `LimitNICE=+0`); without either the agent
//! stays at its normal priority and says so once.
//!
//! A thread at `SCHED_IDLE` on a saturated host may get no CPU at all, and then it cannot see
//! the ring filling. So a watchdog thread, which never yields, wakes every [`WATCH_EVERY`]:
//! when the agent's event loop has not run for [`STARVED_AFTER`] while yielding, it moves every
//! thread back to the normal priority at once (a rescue, counted as a boost). The rescue has to
//! come before the ring fills: sysbench on MariaDB makes about 100 MB/s of records, so a 16 MiB
//! ring lasts about 160 ms, and a rescue after 250 ms (as it first was) let it overflow at the
//! start of a run, while the agent still yielded. Within 50 ms it holds about a third.
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The event loop wakes at least every 20 ms (its longest drain interval); this long without
/// it means it is starved.
pub const STARVED_AFTER: Duration = Duration::from_millis(40);
/// How often the watchdog looks.
pub const WATCH_EVERY: Duration = Duration::from_millis(10);

/// Monotonic milliseconds of the event loop's last turn.
static HEARTBEAT_MS: AtomicU64 = AtomicU64::new(0);
/// The threads are at `SCHED_IDLE` now.
static YIELDING: AtomicBool = AtomicBool::new(false);
/// The watchdog moved the threads back (taken by the event loop).
static RESCUED: AtomicBool = AtomicBool::new(false);
/// The watchdog's thread id: never set to `SCHED_IDLE`.
static WATCHDOG_TID: AtomicI32 = AtomicI32::new(0);
/// The output file's writer thread: never set to `SCHED_IDLE` either (see [`keep_normal`]).
static WRITER_TID: AtomicI32 = AtomicI32::new(0);

/// Keeps the calling thread (the output file's writer) at `SCHED_OTHER` while the others
/// yield. It sleeps in the device during each direct write; at `SCHED_IDLE` on a saturated host
/// each wake-up would wait for an idle CPU, and the output would fall behind. It uses little
/// CPU (one system call per 2 MiB of output).
pub fn keep_normal() {
    exempt(&WRITER_TID);
}

/// Records the calling thread in `slot` (skipped when the threads yield) and moves it to
/// `SCHED_OTHER`: a thread created while the others yield starts at `SCHED_IDLE`. Leaving it
/// may be refused (then the thread yields too).
fn exempt(slot: &AtomicI32) {
    // SAFETY: gettid has no preconditions.
    slot.store(unsafe { libc::gettid() }, Ordering::Relaxed);
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: tid 0 is the calling thread; `param` is valid.
    unsafe { libc::sched_setscheduler(0, libc::SCHED_OTHER, &param) };
}

fn now_ms() -> u64 {
    crate::audit::now_monotonic_ns() / 1_000_000
}

/// The event loop is running (called on every turn and during long drains).
pub fn heartbeat() {
    HEARTBEAT_MS.store(now_ms(), Ordering::Relaxed);
}

/// Whether the watchdog rescued the threads since the last call.
pub fn take_rescue() -> bool {
    RESCUED.swap(false, Ordering::AcqRel)
}

/// Starts the watchdog thread (once adaptive scheduling is on).
pub fn start_watchdog() -> std::io::Result<std::thread::JoinHandle<()>> {
    heartbeat();
    std::thread::Builder::new()
        .name("dbgov-sched".into())
        .spawn(|| {
            // Threads created before this one may have made it idle: it never is.
            exempt(&WATCHDOG_TID);
            loop {
                std::thread::sleep(WATCH_EVERY);
                let stale = now_ms().saturating_sub(HEARTBEAT_MS.load(Ordering::Relaxed));
                if YIELDING.load(Ordering::Acquire)
                    && stale >= STARVED_AFTER.as_millis() as u64
                    && set_all_threads(false).is_ok()
                {
                    RESCUED.store(true, Ordering::Release);
                }
            }
        })
}

/// Errors changing the scheduling policy.
#[derive(Debug, thiserror::Error)]
pub enum SchedError {
    #[error("cannot read the agent's threads: {0}")]
    Threads(std::io::Error),
    #[error("sched_setscheduler on thread {tid}: {source}")]
    Set { tid: i32, source: std::io::Error },
}

/// Sets every thread of this process to `SCHED_IDLE` (`idle`) or `SCHED_OTHER`.
pub fn set_all_threads(idle: bool) -> Result<(), SchedError> {
    let policy = if idle {
        libc::SCHED_IDLE
    } else {
        libc::SCHED_OTHER
    };
    let param = libc::sched_param { sched_priority: 0 };
    let watchdog = WATCHDOG_TID.load(Ordering::Relaxed);
    let writer = WRITER_TID.load(Ordering::Relaxed);
    YIELDING.store(idle, Ordering::Release);
    let dir = std::fs::read_dir("/proc/self/task").map_err(SchedError::Threads)?;
    for e in dir.flatten() {
        let Some(tid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if idle && (tid == watchdog || tid == writer) {
            continue;
        }
        // SAFETY: `param` is a valid sched_param; an exited thread gives ESRCH, ignored.
        if unsafe { libc::sched_setscheduler(tid, policy, &param) } != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::ESRCH) {
                return Err(SchedError::Set { tid, source: err });
            }
        }
    }
    Ok(())
}

/// Whether this process may leave `SCHED_IDLE` again: root, `CAP_SYS_NICE`, or an
/// `RLIMIT_NICE` that allows nice 0.
pub fn can_return() -> bool {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct.
    let nice_ok =
        unsafe { libc::getrlimit(libc::RLIMIT_NICE, &mut lim) } == 0 && lim.rlim_cur >= 20;
    nice_ok || has_cap_sys_nice()
}

fn has_cap_sys_nice() -> bool {
    const CAP_SYS_NICE: u32 = 23;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << CAP_SYS_NICE) != 0)
}

/// The decision: yield (idle) while the ring stays nearly empty, compete when it fills.
#[derive(Debug)]
pub struct Adaptive {
    /// Ring bytes above which the agent stops yielding.
    boost_above: u64,
    /// Ring bytes under which a second counts as quiet.
    quiet_below: u64,
    idle: bool,
    /// The most the ring held (as drained or as the probes saw it) in the current second.
    peak: u64,
    quiet_since: Option<Instant>,
    /// The agent was boosted this many times (for the log and tests).
    pub boosts: u64,
}

/// What to do after an observation.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    None,
    ToIdle,
    ToNormal,
}

impl Adaptive {
    /// Starts idle. `ring_bytes`: the ring buffer's size.
    pub fn new(ring_bytes: u64) -> Self {
        Self {
            boost_above: (ring_bytes / 16).max(64 << 10),
            quiet_below: (ring_bytes / 256).max(16 << 10),
            idle: true,
            peak: 0,
            quiet_since: None,
            boosts: 0,
        }
    }

    pub fn idle(&self) -> bool {
        self.idle
    }

    /// The ring held `bytes` (one drain's worth, or the probes' peak).
    pub fn observe(&mut self, bytes: u64) -> Change {
        self.peak = self.peak.max(bytes);
        if self.idle && bytes >= self.boost_above {
            self.idle = false;
            self.boosts += 1;
            self.quiet_since = None;
            return Change::ToNormal;
        }
        Change::None
    }

    /// The watchdog moved the threads back: the agent competes until quiet again.
    pub fn rescued(&mut self) {
        if self.idle {
            self.idle = false;
            self.boosts += 1;
            self.quiet_since = None;
        }
    }

    /// Once a second: after two quiet seconds in a row, yield again.
    pub fn tick(&mut self, now: Instant) -> Change {
        let quiet = self.peak < self.quiet_below;
        self.peak = 0;
        if self.idle {
            return Change::None;
        }
        if !quiet {
            self.quiet_since = None;
            return Change::None;
        }
        let since = *self.quiet_since.get_or_insert(now);
        if now.duration_since(since) >= Duration::from_secs(2) {
            self.idle = true;
            self.quiet_since = None;
            return Change::ToIdle;
        }
        Change::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boosts_when_the_ring_fills_and_yields_after_two_quiet_seconds() {
        let mut a = Adaptive::new(16 << 20);
        assert!(a.idle());
        assert_eq!(a.observe(100 << 10), Change::None);
        assert_eq!(a.observe(2 << 20), Change::ToNormal);
        assert!(!a.idle());
        assert_eq!(a.observe(4 << 20), Change::None);
        let t0 = Instant::now();
        // The second that saw 4 MiB is not quiet.
        assert_eq!(a.tick(t0), Change::None);
        assert_eq!(a.tick(t0 + Duration::from_secs(1)), Change::None);
        a.observe(10 << 10);
        assert_eq!(a.tick(t0 + Duration::from_secs(2)), Change::None);
        // A busy second restarts the count.
        a.observe(1 << 20);
        assert_eq!(a.tick(t0 + Duration::from_secs(3)), Change::None);
        assert_eq!(a.tick(t0 + Duration::from_secs(4)), Change::None);
        assert_eq!(a.tick(t0 + Duration::from_secs(5)), Change::None);
        assert_eq!(a.tick(t0 + Duration::from_secs(6)), Change::ToIdle);
        assert!(a.idle());
        assert_eq!(a.boosts, 1);
    }

    #[test]
    fn a_rescue_by_the_watchdog_counts_as_a_boost_and_ends_after_quiet_seconds() {
        let mut a = Adaptive::new(16 << 20);
        a.rescued();
        assert!(!a.idle());
        assert_eq!(a.boosts, 1);
        // A second rescue while competing changes nothing.
        a.rescued();
        assert_eq!(a.boosts, 1);
        let t0 = Instant::now();
        assert_eq!(a.tick(t0), Change::None);
        assert_eq!(a.tick(t0 + Duration::from_secs(2)), Change::ToIdle);
    }
}
