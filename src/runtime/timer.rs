//! Converging on a timer: `confpack-converge.timer` runs
//! `confpack update` then `confpack upgrade` (`confpack-converge.service`)
//! once every interval, each node at its own fixed offset within it.
//!
//! Why it is built this way:
//! - the runtime package ships both units disabled: a node converges only
//!   once it has an environment, so `set-environment` enables the timer
//!   (`--converge-every INTERVAL` writes a drop-in, `--no-converge`
//!   disables it, and that choice is kept by later `set-environment`s);
//! - enabling is what deb-systemd-helper does: the `WantedBy=` link under
//!   `/etc/systemd/system`, made by confpack itself, so it works in a
//!   chroot or an image build without systemd or systemctl; only when
//!   systemd runs this root is the timer also (re)started or stopped, and
//!   a failure there is a warning: the choice is made, the next boot
//!   honours it. A timer the administrator masked stays masked;
//! - the schedule is `OnCalendar=` (a divisor of an hour or a day) with
//!   `RandomizedDelaySec=` the whole interval and `FixedRandomDelay=`, so
//!   every node converges exactly once per interval and a fleet spreads
//!   evenly over it (docs/scale.md's request rates);
//! - never two at once: systemd starts no second run of a oneshot service
//!   that is still running, and the service waits for the package
//!   manager's lock (`--lock-timeout`) instead of failing when an
//!   operator's `confpack upgrade` holds it; an operator's run that starts
//!   while the timer's holds the lock waits its own `--lock-timeout` and
//!   exits 4, changing nothing;
//! - unattended by construction: `DEBIAN_FRONTEND=noninteractive`, stdin
//!   /dev/null (a service has no terminal); a failure fails the unit, so
//!   `systemctl status` and the journal show it with confpack's message.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::Listener;
use crate::error::{Error, Result};
use crate::files::rooted;
use crate::paths::Paths;
use crate::store::Batch;

/// The service that converges once.
pub const SERVICE: &str = "confpack-converge.service";
/// The timer that starts it.
pub const TIMER: &str = "confpack-converge.timer";
/// Where the runtime package ships both (Debian 12's unit directory).
pub const UNIT_DIR: &str = "/lib/systemd/system";
/// The administrator's units, where enabling links and drop-ins go.
const ADMIN_DIR: &str = "/etc/systemd/system";
/// The timer's `WantedBy=`.
const WANTED_BY: &str = "timers.target";
/// The drop-in `--converge-every` writes.
pub const DROP_IN_NAME: &str = "confpack.conf";
/// How long the service waits for another apt, dpkg or confpack.
const SERVICE_LOCK_TIMEOUT: Duration = Duration::from_secs(600);
/// The store's record of the node's choice (`off` after --no-converge).
const META: &str = "converge";

/// The interval of a node that never chose one.
pub const DEFAULT_INTERVAL: Interval = Interval { minutes: 30 };

/// How often a node converges: a divisor of an hour or of a day, so that
/// a calendar event fires exactly once per interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    minutes: u32,
}

impl Interval {
    /// `15min`, `30m`, `1h`, `6hours`, `1d` (systemd's spellings).
    pub fn parse(text: &str) -> Result<Interval> {
        let trimmed = text.trim();
        let split = trimmed
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(trimmed.len());
        let (number, unit) = trimmed.split_at(split);
        let number: u32 = number.parse().map_err(|_| invalid(text))?;
        let scale = match unit.trim() {
            "m" | "min" | "minute" | "minutes" => 1,
            "h" | "hr" | "hour" | "hours" => 60,
            "d" | "day" | "days" => 24 * 60,
            _ => return Err(invalid(text)),
        };
        let minutes = number.checked_mul(scale).ok_or_else(|| invalid(text))?;
        let divides = |whole: u32| minutes > 0 && whole.is_multiple_of(minutes);
        let fits =
            (minutes <= 60 && divides(60)) || (minutes.is_multiple_of(60) && divides(24 * 60));
        match fits {
            true => Ok(Interval { minutes }),
            false => Err(invalid(text)),
        }
    }

    /// The systemd calendar event that fires once per interval.
    pub fn calendar(self) -> String {
        match self.minutes {
            m if m < 60 => format!("*-*-* *:00/{m}:00"),
            60 => "*-*-* *:00:00".to_string(),
            1440 => "*-*-* 00:00:00".to_string(),
            m => format!("*-*-* 00/{}:00:00", m / 60),
        }
    }

    /// As systemd spells a time span (`15min`, `2h`, `1d`).
    pub fn span(self) -> String {
        match self.minutes {
            1440 => "1d".to_string(),
            m if m % 60 == 0 => format!("{}h", m / 60),
            m => format!("{m}min"),
        }
    }
}

fn invalid(text: &str) -> Error {
    Error::Usage(format!(
        "--converge-every {text:?}: give a divisor of an hour (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, \
         30min) or of a day (1h, 2h, 3h, 4h, 6h, 8h, 12h, 1d), so that every node converges \
         once per interval"
    ))
}

/// What `set-environment` was told about converging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Converge {
    /// Neither flag: on, unless the node chose --no-converge before.
    AsChosen,
    /// `--converge-every INTERVAL`.
    Every(Interval),
    /// `--no-converge`.
    Off,
}

/// `confpack-converge.service`.
pub fn service_unit() -> String {
    format!(
        "[Unit]\n\
         Description=Converge this node to its confpack environment\n\
         Documentation=man:confpack-upgrade(1) man:confpack-set-environment(1)\n\
         Wants=network-online.target\n\
         After=network-online.target\n\
         # Nothing to converge to before `confpack set-environment`.\n\
         ConditionPathExists={sources}\n\
         \n\
         [Service]\n\
         # One run at a time: systemd starts no second one while this runs.\n\
         Type=oneshot\n\
         Environment=DEBIAN_FRONTEND=noninteractive\n\
         StandardInput=null\n\
         # Wait for an operator's apt, dpkg or confpack instead of failing.\n\
         ExecStart=/usr/bin/confpack --lock-timeout {lock} update\n\
         ExecStart=/usr/bin/confpack --lock-timeout {lock} upgrade\n\
         # A hung download must not hold the node's package manager for ever;\n\
         # SIGTERM stops apt, dpkg and the maintainer scripts cleanly.\n\
         TimeoutStartSec=1h\n",
        sources = super::SOURCES_LIST,
        lock = SERVICE_LOCK_TIMEOUT.as_secs(),
    )
}

/// `confpack-converge.timer`, at [`DEFAULT_INTERVAL`].
pub fn timer_unit() -> String {
    format!(
        "[Unit]\n\
         Description=Converge this node to its confpack environment periodically\n\
         Documentation=man:confpack-set-environment(1)\n\
         \n\
         [Timer]\n\
         {schedule}\
         # The same offset on every run: each node once per interval, a fleet\n\
         # spread evenly over it.\n\
         FixedRandomDelay=true\n\
         # A run missed while the node was off happens at boot.\n\
         Persistent=true\n\
         \n\
         [Install]\n\
         WantedBy={WANTED_BY}\n",
        schedule = schedule(DEFAULT_INTERVAL),
    )
}

fn schedule(interval: Interval) -> String {
    format!(
        "OnCalendar={}\nRandomizedDelaySec={}\n",
        interval.calendar(),
        interval.span()
    )
}

/// The drop-in of `--converge-every INTERVAL`.
pub fn drop_in(interval: Interval) -> String {
    format!(
        "# Written by `confpack set-environment --converge-every {span}`.\n\
         [Timer]\n\
         OnCalendar=\n{}",
        schedule(interval),
        span = interval.span(),
    )
}

/// The link that enables the timer.
pub fn wants_link() -> String {
    format!("{ADMIN_DIR}/{WANTED_BY}.wants/{TIMER}")
}

/// The drop-in's directory.
pub fn drop_in_dir() -> String {
    format!("{ADMIN_DIR}/{TIMER}.d")
}

/// systemd on this node: whether it runs the root, and its commands.
pub trait Systemd {
    /// Whether systemd runs `root` (`/run/systemd/system` exists and
    /// `root` is `/`).
    fn running(&self, root: &Path) -> bool;
    /// `systemctl ARGS`; Err is what it said.
    fn systemctl(&mut self, args: &[&str]) -> std::result::Result<(), String>;
}

/// The real one.
pub struct SystemSystemd;

impl Systemd for SystemSystemd {
    fn running(&self, root: &Path) -> bool {
        root == Path::new("/") && Path::new("/run/systemd/system").is_dir()
    }

    fn systemctl(&mut self, args: &[&str]) -> std::result::Result<(), String> {
        crate::process::command::output(std::process::Command::new("systemctl").args(args))
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// Applies `converge` to the node under `paths.root` and remembers an
/// explicit choice.
pub fn choose(
    paths: &Paths,
    converge: Converge,
    lock_timeout: Duration,
    systemd: &mut dyn Systemd,
    listener: &mut dyn Listener,
) -> Result<()> {
    let store = paths.open_store(lock_timeout)?;
    let chosen_off = store.meta(META)?.as_deref() == Some("off");
    let remembered = match converge {
        Converge::AsChosen => None,
        Converge::Every(_) => Some("on"),
        Converge::Off => Some("off"),
    };
    if let Some(value) = remembered {
        let mut batch = Batch::new();
        batch.set_meta(META, value)?;
        store.commit(batch)?;
    }
    drop(store);
    let root = &paths.root;
    match converge {
        Converge::Off => disable(root, systemd, listener),
        Converge::AsChosen if chosen_off => {
            listener.info(&format!(
                "{TIMER} stays disabled (--no-converge); --converge-every INTERVAL enables it"
            ));
            Ok(())
        }
        Converge::AsChosen => enable(root, None, systemd, listener),
        Converge::Every(interval) => enable(root, Some(interval), systemd, listener),
    }
}

/// Whether the administrator masked the timer (a link to /dev/null).
fn masked(root: &Path) -> bool {
    std::fs::read_link(rooted(root, &Path::new(ADMIN_DIR).join(TIMER)))
        .is_ok_and(|target| target == Path::new("/dev/null"))
}

fn enable(
    root: &Path,
    interval: Option<Interval>,
    systemd: &mut dyn Systemd,
    listener: &mut dyn Listener,
) -> Result<()> {
    if let Some(interval) = interval {
        let path = rooted(root, &Path::new(&drop_in_dir()).join(DROP_IN_NAME));
        create_parent(&path)?;
        crate::files::write_atomic(&path, drop_in(interval).as_bytes(), 0o644)?;
    }
    if masked(root) {
        listener.warning(&format!(
            "{TIMER} is masked: left masked and not enabled (`systemctl unmask {TIMER}`, then \
             set-environment again)"
        ));
        return Ok(());
    }
    let link = rooted(root, Path::new(&wants_link()));
    let target = Path::new(UNIT_DIR).join(TIMER);
    if std::fs::read_link(&link).ok().as_deref() != Some(target.as_path()) {
        create_parent(&link)?;
        match std::fs::remove_file(&link) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::io(&link, e));
            }
            _ => {}
        }
        std::os::unix::fs::symlink(&target, &link).map_err(|e| Error::io(&link, e))?;
    }
    let drop_in = rooted(root, &Path::new(&drop_in_dir()).join(DROP_IN_NAME));
    let every = match interval {
        Some(interval) => interval.span(),
        None if drop_in.exists() => "interval set before (--converge-every)".to_string(),
        None => DEFAULT_INTERVAL.span(),
    };
    listener.info(&format!(
        "{TIMER} enabled: this node converges every {every}"
    ));
    if systemd.running(root) {
        tell(systemd, &["daemon-reload"], listener);
        tell(systemd, &["restart", TIMER], listener);
    }
    Ok(())
}

fn disable(root: &Path, systemd: &mut dyn Systemd, listener: &mut dyn Listener) -> Result<()> {
    let link = rooted(root, Path::new(&wants_link()));
    match std::fs::remove_file(&link) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(&link, e)),
        _ => {}
    }
    listener.info(&format!(
        "{TIMER} disabled: this node converges only when `confpack update && confpack upgrade` runs"
    ));
    if systemd.running(root) {
        tell(systemd, &["stop", TIMER], listener);
    }
    Ok(())
}

/// Runs systemctl; a failure is a warning (the links are what counts).
fn tell(systemd: &mut dyn Systemd, args: &[&str], listener: &mut dyn Listener) {
    if let Err(said) = systemd.systemctl(args) {
        listener.warning(&format!(
            "systemctl {}: {said}; the timer follows at the next boot",
            args.join(" ")
        ));
    }
}

fn create_parent(path: &Path) -> Result<()> {
    let parent = path.parent().map(PathBuf::from).unwrap_or_default();
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listener::RecordingListener;

    #[derive(Default)]
    struct FakeSystemd {
        running: bool,
        fails: bool,
        ran: Vec<String>,
    }

    impl Systemd for FakeSystemd {
        fn running(&self, _root: &Path) -> bool {
            self.running
        }
        fn systemctl(&mut self, args: &[&str]) -> std::result::Result<(), String> {
            self.ran.push(args.join(" "));
            match self.fails {
                true => Err("Failed to connect to bus".into()),
                false => Ok(()),
            }
        }
    }

    struct Node {
        _dir: tempfile::TempDir,
        paths: Paths,
    }

    impl Node {
        fn new() -> Node {
            let dir = tempfile::tempdir().expect("tempdir");
            let paths = Paths::new(dir.path(), None);
            Node { _dir: dir, paths }
        }
        fn choose(&self, converge: Converge, systemd: &mut FakeSystemd) -> RecordingListener {
            let mut listener = RecordingListener::default();
            choose(
                &self.paths,
                converge,
                Duration::from_secs(1),
                systemd,
                &mut listener,
            )
            .expect("choose");
            listener
        }
        fn link(&self) -> Option<PathBuf> {
            std::fs::read_link(rooted(&self.paths.root, Path::new(&wants_link()))).ok()
        }
        fn drop_in(&self) -> Option<String> {
            let path = Path::new(&drop_in_dir()).join(DROP_IN_NAME);
            std::fs::read_to_string(rooted(&self.paths.root, &path)).ok()
        }
    }

    #[test]
    fn intervals_divide_an_hour_or_a_day() {
        for (text, calendar, span) in [
            ("15min", "*-*-* *:00/15:00", "15min"),
            ("1m", "*-*-* *:00/1:00", "1min"),
            ("60min", "*-*-* *:00:00", "1h"),
            ("1h", "*-*-* *:00:00", "1h"),
            ("6 hours", "*-*-* 00/6:00:00", "6h"),
            ("12h", "*-*-* 00/12:00:00", "12h"),
            ("24h", "*-*-* 00:00:00", "1d"),
            ("1d", "*-*-* 00:00:00", "1d"),
        ] {
            let interval = Interval::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(
                (interval.calendar().as_str(), interval.span().as_str()),
                (calendar, span)
            );
        }
        for text in [
            "45min",
            "7h",
            "2d",
            "0min",
            "15",
            "15s",
            "min",
            "",
            "99999999999h",
        ] {
            assert!(Interval::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn set_environment_enables_the_timer_with_a_link_as_deb_systemd_helper_does() {
        let node = Node::new();
        let mut systemd = FakeSystemd::default();
        let listener = node.choose(Converge::AsChosen, &mut systemd);
        assert_eq!(
            node.link(),
            Some(PathBuf::from("/lib/systemd/system/confpack-converge.timer"))
        );
        assert_eq!(node.drop_in(), None, "the shipped interval");
        assert!(systemd.ran.is_empty(), "no systemd running: links only");
        assert_eq!(
            listener.infos,
            ["confpack-converge.timer enabled: this node converges every 30min"]
        );
    }

    #[test]
    fn converge_every_writes_the_interval_into_a_drop_in() {
        let node = Node::new();
        let interval = Interval::parse("15min").expect("interval");
        node.choose(Converge::Every(interval), &mut FakeSystemd::default());
        let drop_in = node.drop_in().expect("drop-in");
        assert!(
            drop_in
                .contains("OnCalendar=\nOnCalendar=*-*-* *:00/15:00\nRandomizedDelaySec=15min\n"),
            "{drop_in}"
        );
        assert!(node.link().is_some());
    }

    #[test]
    fn no_converge_removes_the_link_and_later_set_environments_keep_it_off() {
        let node = Node::new();
        node.choose(Converge::AsChosen, &mut FakeSystemd::default());
        node.choose(Converge::Off, &mut FakeSystemd::default());
        assert_eq!(node.link(), None);
        let listener = node.choose(Converge::AsChosen, &mut FakeSystemd::default());
        assert_eq!(node.link(), None, "the node's choice stays");
        assert!(listener.infos.iter().any(|i| i.contains("stays disabled")));
        let interval = Interval::parse("1h").expect("interval");
        node.choose(Converge::Every(interval), &mut FakeSystemd::default());
        assert!(node.link().is_some());
        node.choose(Converge::AsChosen, &mut FakeSystemd::default());
        assert!(node.link().is_some(), "on again, and it stays on");
    }

    #[test]
    fn a_running_systemd_restarts_or_stops_the_timer_and_its_failure_only_warns() {
        let node = Node::new();
        let mut systemd = FakeSystemd {
            running: true,
            ..FakeSystemd::default()
        };
        node.choose(Converge::AsChosen, &mut systemd);
        node.choose(Converge::Off, &mut systemd);
        assert_eq!(
            systemd.ran,
            [
                "daemon-reload",
                "restart confpack-converge.timer",
                "stop confpack-converge.timer"
            ]
        );
        let mut failing = FakeSystemd {
            running: true,
            fails: true,
            ..FakeSystemd::default()
        };
        let listener = node.choose(Converge::Every(DEFAULT_INTERVAL), &mut failing);
        assert!(node.link().is_some());
        assert_eq!(listener.warnings.len(), 2, "{:?}", listener.warnings);
    }

    #[test]
    fn a_masked_timer_stays_masked() {
        let node = Node::new();
        let mask = rooted(&node.paths.root, &Path::new(ADMIN_DIR).join(TIMER));
        std::fs::create_dir_all(mask.parent().expect("parent")).expect("mkdir");
        std::os::unix::fs::symlink("/dev/null", &mask).expect("mask");
        let listener = node.choose(Converge::AsChosen, &mut FakeSystemd::default());
        assert_eq!(node.link(), None);
        assert!(listener.warnings[0].contains("masked"));
    }

    #[test]
    fn the_units_pass_systemd_analyze_verify() {
        let Ok(output) = std::process::Command::new("systemd-analyze")
            .arg("--version")
            .output()
        else {
            eprintln!("skipped: systemd-analyze is not installed (apt-get install systemd)");
            return;
        };
        assert!(output.status.success());
        let dir = tempfile::tempdir().expect("tempdir");
        let service = dir.path().join(SERVICE);
        let timer = dir.path().join(TIMER);
        std::fs::write(&service, service_unit()).expect("write");
        std::fs::write(&timer, timer_unit()).expect("write");
        let drop_in_dir = dir.path().join(format!("{TIMER}.d"));
        std::fs::create_dir(&drop_in_dir).expect("mkdir");
        std::fs::write(
            drop_in_dir.join(DROP_IN_NAME),
            drop_in(Interval::parse("15min").expect("interval")),
        )
        .expect("write");
        // verify reads the drop-ins beside the files it is given; it also
        // says /usr/bin/confpack is missing where confpack is not installed.
        let verify = std::process::Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(&timer)
            .arg(&service)
            .output()
            .expect("systemd-analyze");
        let said = String::from_utf8_lossy(&verify.stderr);
        let problems: Vec<&str> = said
            .lines()
            .filter(|l| !l.contains("/usr/bin/confpack") && !l.trim().is_empty())
            .collect();
        assert!(problems.is_empty(), "{said}");
        for calendar in ["15min", "1h", "6h", "1d"] {
            let event = Interval::parse(calendar).expect("interval").calendar();
            let check = std::process::Command::new("systemd-analyze")
                .args(["calendar", &event])
                .output()
                .expect("systemd-analyze calendar");
            assert!(
                check.status.success(),
                "{event}: {}",
                String::from_utf8_lossy(&check.stderr)
            );
        }
    }
}
