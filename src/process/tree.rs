//! Ending a whole apt run: apt-get, the dpkg it started, the maintainer
//! scripts and the `confpack configure` they run.
//!
//! Ctrl-C on a terminal reaches every process of the foreground group,
//! but apt and dpkg ignore SIGINT while a child runs (so that they are not
//! left half-way), and a process killed first orphans its children, which
//! then keep the dpkg lock and the answer database. So confpack makes
//! itself the *subreaper* of what it starts (orphans are re-parented to
//! it, not to init, and stay findable), and on a signal it sends SIGTERM
//! to every descendant, waits for them, and kills what is left. dpkg's
//! status is written atomically, its locks are released by the kernel
//! when it dies, and `dpkg --configure -a` (which `confpack upgrade` runs
//! first when needed) finishes what was left unpacked or half-configured.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, WaitOptions};

/// How long the processes get to end on SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

/// Makes orphaned descendants this process's children (Linux only; where
/// it fails, orphans of a killed parent may escape and [`end`] says so by
/// finding fewer processes).
pub fn become_subreaper() {
    let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
}

/// `pid → parent pid` of every process, read from `/proc`.
fn parents() -> BTreeMap<i32, i32> {
    let mut map = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return map;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if let Some(parent) = std::fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|stat| parent_of(&stat))
        {
            map.insert(pid, parent);
        }
    }
    map
}

/// The state letter and parent pid from a `/proc/PID/stat` line: the
/// third and fourth fields, after the command name in parentheses (which
/// may itself hold spaces and parentheses, hence the last `)`).
fn state_and_parent(stat: &str) -> Option<(char, i32)> {
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    Some((state, fields.next()?.parse().ok()?))
}

fn parent_of(stat: &str) -> Option<i32> {
    state_and_parent(stat).map(|(_, parent)| parent)
}

/// Every descendant of `root`, children before grandchildren.
#[cfg(test)]
fn descendants(root: i32) -> Vec<i32> {
    descendants_in(&parents(), root)
}

fn descendants_in(parents: &BTreeMap<i32, i32>, root: i32) -> Vec<i32> {
    let mut found = Vec::new();
    let mut seen = BTreeSet::from([root]);
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for (&pid, _) in parents.iter().filter(|(_, p)| **p == parent) {
            if seen.insert(pid) {
                found.push(pid);
                frontier.push(pid);
            }
        }
    }
    found
}

/// Whether `ancestor` is this process's parent, grandparent, ….
pub fn is_ancestor(ancestor: i32) -> bool {
    let parents = parents();
    let mut pid = rustix::process::getpid().as_raw_nonzero().get();
    for _ in 0..64 {
        match parents.get(&pid) {
            Some(&parent) if parent == ancestor => return true,
            Some(&parent) if parent > 1 => pid = parent,
            _ => return false,
        }
    }
    false
}

fn signal(pid: i32, signal: Signal) {
    if let Some(pid) = Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(pid, signal);
    }
}

/// Reaps processes of the run that were re-parented to us and have
/// exited; the direct child is left to its `Child` handle.
fn reap_orphans(child: i32, known: &BTreeSet<i32>) {
    for &pid in known {
        if pid != child
            && let Some(pid) = Pid::from_raw(pid)
        {
            let _ = rustix::process::waitpid(Some(pid), WaitOptions::NOHANG);
        }
    }
}

/// Ends `child` and everything below it: SIGTERM to all, then SIGKILL to
/// what is still there after [`GRACE`]. Processes are followed from
/// `child` down, including those orphaned on the way (re-parented to us
/// as subreaper), never our other children. Returns how many processes
/// were signalled. The caller still waits for `child` itself.
pub fn end(child: i32) -> usize {
    let mut known = BTreeSet::from([child]);
    let mut signalled = BTreeSet::new();
    let deadline = Instant::now() + GRACE;
    loop {
        let parents = parents();
        for pid in known.clone() {
            known.extend(descendants_in(&parents, pid));
        }
        // Newest (deepest, as a rule) first: a maintainer script's
        // confpack restores the terminal before its parents notice.
        let alive: Vec<i32> = known.iter().copied().filter(|p| is_running(*p)).collect();
        if alive.is_empty() {
            break;
        }
        let kill = Instant::now() >= deadline;
        for pid in alive.iter().rev() {
            if kill {
                signal(*pid, Signal::KILL);
            } else if signalled.insert(*pid) {
                signal(*pid, Signal::TERM);
            }
        }
        reap_orphans(child, &known);
        if kill {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reap_orphans(child, &known);
    signalled.len()
}

/// Ends what a run whose command died left behind: our children (orphans
/// re-parented to us as subreaper) that carry `marker` (`NAME=value`) in
/// their environment and stay in our session, with everything below them.
/// A killed apt-get leaves its dpkg configuring, holding dpkg's lock, and
/// waiting for debconf's questions; a daemon a postinst started has a
/// session of its own and is left alone. Returns how many processes were
/// signalled.
pub fn end_orphans(marker: &str) -> usize {
    let me = rustix::process::getpid().as_raw_nonzero().get();
    let Some(session) = session_of(me) else {
        return 0;
    };
    let orphans: Vec<i32> = parents()
        .into_iter()
        .filter(|&(pid, parent)| parent == me && session_of(pid) == Some(session))
        .map(|(pid, _)| pid)
        .filter(|&pid| has_in_environment(pid, marker))
        .collect();
    let mut signalled = 0;
    for orphan in orphans {
        signalled += end(orphan);
        if let Some(pid) = Pid::from_raw(orphan) {
            let _ = rustix::process::waitpid(Some(pid), WaitOptions::NOHANG);
        }
    }
    signalled
}

/// The session id, the sixth field of `/proc/PID/stat`.
fn session_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()
}

fn has_in_environment(pid: i32, entry: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|environ| environ.split(|b| *b == 0).any(|e| e == entry.as_bytes()))
}

/// A process that exists and is not a zombie.
pub fn is_running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| state_and_parent(&stat))
        .is_some_and(|(state, _)| !matches!(state, 'Z' | 'X'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parent_is_read_after_a_hostile_command_name() {
        assert_eq!(parent_of("42 (a) b (c)) S 7 42 42 0"), Some(7));
        assert_eq!(parent_of("1 (init) S 0 1 1"), Some(0));
        assert_eq!(parent_of("garbage"), None);
    }

    #[test]
    fn descendants_are_found_children_first() {
        let parents = BTreeMap::from([(10, 1), (11, 10), (12, 11), (13, 10), (20, 1)]);
        let found = descendants_in(&parents, 10);
        assert_eq!(found.len(), 3);
        assert!(found.contains(&11) && found.contains(&12) && found.contains(&13));
        assert!(found.iter().position(|p| *p == 11) < found.iter().position(|p| *p == 12));
        assert!(descendants_in(&parents, 20).is_empty());
    }

    #[test]
    fn a_process_tree_is_ended_with_its_orphans() {
        become_subreaper();
        // sh starts a grandchild that ignores nothing and outlives sh if
        // only sh were killed.
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 60 & sleep 60 & wait"])
            .spawn()
            .expect("sh");
        let pid = child.id() as i32;
        let deadline = Instant::now() + Duration::from_secs(5);
        while descendants(pid).len() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let grandchildren = descendants(pid);
        assert_eq!(grandchildren.len(), 2, "{grandchildren:?}");
        let started = Instant::now();
        assert!(end(pid) >= 3);
        child.wait().expect("wait");
        assert!(started.elapsed() < GRACE, "ended on SIGTERM, not SIGKILL");
        for pid in grandchildren {
            assert!(!is_running(pid), "{pid} still runs");
        }
    }

    #[test]
    fn a_killed_commands_orphans_are_ended_but_not_a_daemon_of_its_own_session() {
        become_subreaper();
        let dir = tempfile::tempdir().expect("tempdir");
        let marker = format!("CONFPACK_TREE_TEST={}", dir.path().display());
        let (name, value) = marker.split_once('=').expect("=");
        // The command leaves a child behind (as a killed apt-get leaves
        // its dpkg) and a daemon in a session of its own, then dies.
        let mut child = std::process::Command::new("sh")
            .args([
                "-c",
                "sleep 60 & echo $! > orphan; setsid sleep 60 & echo $! > daemon; kill -9 $$",
            ])
            .current_dir(dir.path())
            .env(name, value)
            .spawn()
            .expect("sh");
        child.wait().expect("wait");
        let pid = |file: &str| -> i32 {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                if let Ok(pid) = std::fs::read_to_string(dir.path().join(file))
                    .unwrap_or_default()
                    .trim()
                    .parse()
                {
                    return pid;
                }
                assert!(Instant::now() < deadline, "no {file}");
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        let (orphan, daemon) = (pid("orphan"), pid("daemon"));
        let me = rustix::process::getpid().as_raw_nonzero().get();
        let deadline = Instant::now() + Duration::from_secs(5);
        while session_of(daemon) == session_of(me) && Instant::now() < deadline {
            // setsid has not run yet.
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(end_orphans(&marker) >= 1);
        assert!(!is_running(orphan), "the orphan {orphan} still runs");
        assert!(is_running(daemon), "the daemon {daemon} was ended");
        signal(daemon, Signal::KILL);
        let deadline = Instant::now() + Duration::from_secs(5);
        while is_running(daemon) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(pid) = Pid::from_raw(daemon) {
            let _ = rustix::process::waitpid(Some(pid), WaitOptions::NOHANG);
        }
    }
}
