//! What a server on this machine spent during the timed phase
//! (`--server-pid`): its CPU time, read from `/proc/PID/stat` where the
//! runner reads its own, and its peak resident memory.
//!
//! CPU time is `utime + stime` of the process, all its threads included;
//! child processes are not (their time reaches `cutime`/`cstime` only once
//! reaped, long after the run), so a server that forks workers is measured
//! only in part. The peak RSS is the kernel's high-water mark (`VmHWM`),
//! reset to the current RSS when the clock starts by writing `5` to
//! `/proc/PID/clear_refs`; where that is refused (another user's process,
//! an old kernel) a thread samples `VmRSS` every `RSS_POLL_INTERVAL`
//! instead, which can miss a peak shorter than that.
//!
//! The parsers are pure functions over the files' text; `ServerProbe` does
//! the reading.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often the fallback samples `VmRSS`.
pub const RSS_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// (utime, stime) in clock ticks from the text of `/proc/PID/stat`.
///
/// The command name (field 2) is in parentheses and may hold spaces or
/// parentheses itself, so the fields are counted from the last `)`.
pub fn parse_stat_ticks(stat: &str) -> Option<(u64, u64)> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_comm.split_whitespace();
    // Fields 3 (state) to 13 come first; utime is field 14, stime 15.
    let utime = fields.nth(11)?.parse().ok()?;
    let stime = fields.next()?.parse().ok()?;
    Some((utime, stime))
}

/// The value in bytes of a `kB` line of `/proc/PID/status` (`VmHWM`, `VmRSS`).
pub fn parse_status_bytes(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        let kb = rest.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()?;
        Some(kb * 1024)
    })
}

/// How the peak RSS was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RssSource {
    /// The kernel's high-water mark, reset at the start.
    Vmhwm,
    /// The largest of `VmRSS` samples taken every `RSS_POLL_INTERVAL`.
    Polled,
}

/// The server's CPU time and peak RSS over the timed phase.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ServerSample {
    pub user_s: f64,
    pub system_s: f64,
    pub rss_peak_bytes: u64,
    pub rss_source: RssSource,
}

fn read_proc(pid: u32, file: &str) -> Result<String, String> {
    std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .map_err(|e| format!("server pid {pid}: /proc/{pid}/{file}: {e}"))
}

fn stat_ticks(pid: u32) -> Result<(u64, u64), String> {
    let text = read_proc(pid, "stat")?;
    parse_stat_ticks(&text).ok_or_else(|| format!("server pid {pid}: unreadable /proc/{pid}/stat"))
}

fn status_bytes(pid: u32, field: &str) -> Result<u64, String> {
    let text = read_proc(pid, "status")?;
    parse_status_bytes(&text, field)
        .ok_or_else(|| format!("server pid {pid}: no {field} in /proc/{pid}/status"))
}

/// Checks that `pid` is a process whose CPU time and memory can be read.
pub fn check(pid: u32) -> Result<(), String> {
    stat_ticks(pid)?;
    status_bytes(pid, "VmRSS")?;
    Ok(())
}

/// The fallback: a thread that keeps the largest `VmRSS` seen.
struct RssPoller {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

/// A server being watched from the start of the timed phase.
pub struct ServerProbe {
    pid: u32,
    ticks_before: (u64, u64),
    poller: Option<RssPoller>,
}

impl ServerProbe {
    /// Resets the server's RSS high-water mark (or starts sampling) and
    /// reads its CPU time: call where the clock starts.
    pub fn start(pid: u32) -> Result<Self, String> {
        let reset = std::fs::write(format!("/proc/{pid}/clear_refs"), b"5");
        let poller = match reset {
            Ok(()) => None,
            Err(_) => {
                let stop = Arc::new(AtomicBool::new(false));
                let peak = Arc::new(AtomicU64::new(status_bytes(pid, "VmRSS")?));
                let (stop2, peak2) = (stop.clone(), peak.clone());
                let thread = std::thread::Builder::new()
                    .name("bench-rss".into())
                    .spawn(move || {
                        while !stop2.load(Ordering::Relaxed) {
                            if let Ok(rss) = status_bytes(pid, "VmRSS") {
                                peak2.fetch_max(rss, Ordering::Relaxed);
                            }
                            std::thread::sleep(RSS_POLL_INTERVAL);
                        }
                    })
                    .map_err(|e| format!("starting the RSS sampler: {e}"))?;
                Some(RssPoller { stop, peak, thread })
            }
        };
        Ok(Self {
            pid,
            ticks_before: stat_ticks(pid)?,
            poller,
        })
    }

    /// Reads the CPU time and the peak RSS: call where the clock stops.
    pub fn finish(self) -> Result<ServerSample, String> {
        let ticks_after = stat_ticks(self.pid);
        let (rss_peak_bytes, rss_source) = match self.poller {
            None => (status_bytes(self.pid, "VmHWM")?, RssSource::Vmhwm),
            Some(poller) => {
                poller.stop.store(true, Ordering::Relaxed);
                let _ = poller.thread.join();
                (poller.peak.load(Ordering::Relaxed), RssSource::Polled)
            }
        };
        let ticks_after = ticks_after?;
        // SAFETY: sysconf only reads a constant of the system.
        let ticks_per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let seconds = |after: u64, before: u64| after.saturating_sub(before) as f64 / ticks_per_s;
        Ok(ServerSample {
            user_s: seconds(ticks_after.0, self.ticks_before.0),
            system_s: seconds(ticks_after.1, self.ticks_before.1),
            rss_peak_bytes,
            rss_source,
        })
    }
}
