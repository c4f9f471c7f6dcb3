//! The socket, with small Perl clients in debconf's place: sequential
//! connections, debconf going away, the command dying under a silent
//! connection or under a question on screen.

use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::fakes::{Recording, Scripted, Turn, no_preset};
use crate::agent::{Session, run_with_agent};
use crate::error::Result;
use crate::frontend::Context;

/// Sends each argument as a line and writes each reply to stdout, as
/// Passthrough.pm talks. `SEND:<line>` sends without waiting for the
/// reply, `EXIT` leaves at once (closing the socket), `DIE` kills itself,
/// `SLEEP:<s>` waits holding the connection.
const CLIENT: &str = r#"
use strict;
use IO::Socket::UNIX;
$| = 1;
my $socket = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $ENV{DEBCONF_PIPE})
    or die "cannot connect: $!";
$socket->autoflush(1);
for my $line (@ARGV) {
    if ($line eq 'EXIT') { exit 0 }
    if ($line eq 'DIE') { kill 'KILL', $$ }
    if ($line =~ /^SLEEP:(.*)/) { select(undef, undef, undef, $1); next }
    if ($line =~ /^SEND:(.*)/) { print $socket "$1\n"; next }
    print $socket "$line\n";
    my $reply = <$socket>;
    defined $reply or die "no reply to $line\n";
    print $reply;
}
"#;

struct Ran {
    result: Result<ExitStatus>,
    took: Duration,
    dir: tempfile::TempDir,
}

impl Ran {
    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }
}

/// Runs `script` with `sh`, `client` being the Perl client, in a temp dir.
fn run(script: &str, frontend: &mut Scripted) -> Ran {
    let dir = tempfile::tempdir().expect("tempdir");
    let client = dir.path().join("client.pl");
    std::fs::write(&client, CLIENT).expect("write client");
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(script.replace("client", &format!("perl {}", client.display())))
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut progress = Recording::default();
    let mut session = Session::new(frontend, &mut progress, &no_preset, Context::default());
    let started = Instant::now();
    let result = run_with_agent(&mut command, &mut session);
    Ran {
        result,
        took: started.elapsed(),
        dir,
    }
}

#[test]
fn connections_one_after_the_other_are_served_by_one_session() {
    let mut frontend = Scripted::turns(vec![
        Turn::Answer(vec![("a/x", "one")]),
        Turn::Answer(vec![("b/y", "two")]),
    ]);
    let ran = run(
        "client 'DATA a/x type string' 'INPUT high a/x' GO 'GET a/x' > first && \
         client 'DATA b/y type string' 'INPUT high b/y' GO 'GET b/y' 'GET a/x' > second",
        &mut frontend,
    );
    let status = ran.result.as_ref().expect("served");
    assert!(status.success(), "{status}");
    assert_eq!(ran.file("first"), "0\n0\n0\n0 one\n");
    assert_eq!(ran.file("second"), "0\n0\n0\n0 two\n0 one\n");
    assert_eq!(frontend.asked_tags(), vec![vec!["a/x"], vec!["b/y"]]);
}

#[test]
fn the_socket_is_in_a_private_directory_removed_afterwards() {
    let mut frontend = Scripted::answering(vec![]);
    let ran = run(
        r#"stat -c %a "${DEBCONF_PIPE%/*}" > seen; echo "$DEBCONF_PIPE" >> seen; echo "$DEBIAN_FRONTEND" >> seen"#,
        &mut frontend,
    );
    assert!(ran.result.as_ref().expect("ran").success());
    let seen = ran.file("seen");
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(lines.len(), 3, "{seen}");
    assert_eq!(lines[0], "700");
    assert!(lines[1].ends_with("/debconf.socket"), "{seen}");
    assert_eq!(lines[2], "passthrough");
    let socket = std::path::Path::new(lines[1]);
    assert!(!socket.exists());
    assert!(socket.parent().is_some_and(|d| !d.exists()), "{seen}");
}

#[test]
fn a_connection_closed_during_go_does_not_hang() {
    let mut frontend = Scripted::answering(vec![("a/x", "late")]);
    let ran = run(
        "client 'DATA a/x type string' 'INPUT high a/x' SEND:GO EXIT; sleep 0.2; exit 4",
        &mut frontend,
    );
    assert_eq!(ran.result.expect("served").code(), Some(4));
    assert!(ran.took < Duration::from_secs(5), "{:?}", ran.took);
    assert_eq!(frontend.asked_tags(), vec![vec!["a/x"]]);
}

#[test]
fn a_debconf_dying_mid_session_ends_its_connection_only() {
    let mut frontend = Scripted::answering(vec![]);
    let ran = run(
        "client 'CAPB backup' 'DATA a/x type string' DIE; client 'GET a/x' > after",
        &mut frontend,
    );
    assert!(ran.result.as_ref().expect("served").success());
    assert_eq!(ran.file("after"), "0 \n");
    assert!(ran.took < Duration::from_secs(5), "{:?}", ran.took);
}

#[test]
fn the_command_killed_under_a_silent_connection_returns_promptly() {
    let mut frontend = Scripted::answering(vec![]);
    let ran = run(
        "client 'CAPB backup' SLEEP:4 & sleep 0.3; kill -9 $$",
        &mut frontend,
    );
    let status = ran.result.expect("returned");
    assert!(!status.success());
    assert!(ran.took < Duration::from_secs(3), "{:?}", ran.took);
}

#[test]
fn a_cancelled_frontend_ends_the_command() {
    let mut frontend = Scripted::turns(vec![Turn::Cancel]);
    let ran = run(
        "client 'DATA a/x type string' 'INPUT high a/x' GO; sleep 30",
        &mut frontend,
    );
    assert!(matches!(ran.result, Err(crate::Error::Cancelled)));
    assert!(ran.took < Duration::from_secs(10), "{:?}", ran.took);
}

#[test]
fn a_question_on_screen_ends_when_the_command_is_killed() {
    // apt-get killed under its dpkg: the maintainer script's debconf is
    // still connected, waiting for the answer nobody will use.
    let mut frontend = Scripted::turns(vec![Turn::UntilAbandoned]);
    let ran = run(
        "client 'DATA a/x type string' 'INPUT high a/x' GO & sleep 0.3; kill -9 $$",
        &mut frontend,
    );
    let status = ran.result.expect("returned");
    assert!(!status.success());
    assert!(ran.took < Duration::from_secs(5), "{:?}", ran.took);
    assert_eq!(
        frontend.abandoned_by.len(),
        1,
        "{:?}",
        frontend.abandoned_by
    );
    assert!(
        frontend.abandoned_by[0].starts_with("the end of process"),
        "{:?}",
        frontend.abandoned_by
    );
}

#[test]
fn a_question_on_screen_ends_when_debconf_closes_its_connection() {
    let mut frontend = Scripted::turns(vec![Turn::UntilAbandoned]);
    let ran = run(
        "client 'DATA a/x type string' 'INPUT high a/x' SEND:GO EXIT; sleep 2; exit 4",
        &mut frontend,
    );
    assert_eq!(ran.result.expect("served").code(), Some(4));
    assert_eq!(
        frontend.abandoned_by,
        vec!["debconf closing its connection".to_string()]
    );
    assert!(ran.took < Duration::from_secs(8), "{:?}", ran.took);
}
