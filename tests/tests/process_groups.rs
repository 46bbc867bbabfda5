//! `brum::rt::group_alive` against real process groups: a group is alive while any member
//! that is not a zombie is, whatever its leader does, and dead once none is.

use std::process::Command;
use std::time::Duration;

use brum::rt::{group_alive, group_exists, signal_group};
use brum_core::rt::Signal;
use brum_tests::eventually;

/// How many scripts each test starts: the race below is narrow, so it is run often enough that
/// a liveness check with the race in it fails here (the old one-pass scan failed each of three
/// runs, in 8 to 16 trials of the 60).
const TRIALS: usize = 60;

/// A script whose leader starts `sleep`s in the background and exits at once, in a group of
/// its own: the sleeps stay in the group after the leader is gone.
fn spawn_leaving(marker: &str) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    Command::new("sh")
        .arg("-c")
        .arg(format!("for i in 1 2 3 4 5; do sleep 1000.{marker} & done; exit 0"))
        .process_group(0)
        .spawn()
        .expect("sh starts")
}

fn kill_group(pgid: u32) {
    let _ = signal_group(pgid, Signal::Kill);
}

/// The race: a member alive when `/proc` is listed forks new members and exits before its own
/// entry is read. A one-pass scan then sees no live member and calls the group dead, so the
/// orphan guardian forgot groups whose background processes then outlived brum. Asked all
/// through the leader's short life and after it, the answer must always be "alive".
#[test]
fn a_group_whose_leader_starts_background_jobs_and_exits_stays_alive() {
    let mut wrong = Vec::new();
    for trial in 0..TRIALS {
        let mut leader = spawn_leaving(&format!("{}{trial}", std::process::id()));
        let pgid = leader.id();
        let mut asked = 0;
        while leader.try_wait().expect("wait works").is_none() {
            asked += 1;
            if !group_alive(pgid) {
                wrong.push((trial, asked));
            }
        }
        // Reaped: only the sleeps are left in the group.
        if !group_alive(pgid) {
            wrong.push((trial, usize::MAX));
        }
        kill_group(pgid);
    }
    assert!(wrong.is_empty(), "called dead while its sleeps ran (trial, question): {wrong:?}");
}

/// And the other way: once every member is killed, the group is dead, though the reaped
/// leader's killed children may stay zombies (reparented to an init that does not reap).
#[test]
fn a_group_whose_members_are_killed_is_dead() {
    let mut leader = spawn_leaving(&format!("{}k", std::process::id()));
    let pgid = leader.id();
    leader.wait().expect("the leader exits");
    assert!(group_alive(pgid), "the sleeps run");
    assert!(group_exists(pgid));
    kill_group(pgid);
    // SIGKILL is delivered when the kernel gets to each member: no event announces it here.
    eventually("the killed group to be dead", Duration::from_secs(10), || !group_alive(pgid));
}
