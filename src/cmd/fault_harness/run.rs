//! One run of the fault harness: the three parties as `patchwork party` processes of a fresh
//! loopback session, one fault injected into one of them at a given time, and the verdict on
//! how every party ended.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use patchwork_core::role::Role;

use crate::cmd::party_result::PartyResult;
use patchwork_net::tcp::loopback_config_with;

use crate::cmd::launch::party_command;

/// What is done to the victim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Fault {
    /// SIGKILL.
    Kill,
    /// SIGSTOP until the other two parties have ended, then SIGCONT.
    Stall,
}

/// What the runs share.
pub(super) struct Harness {
    /// This executable, started as each party.
    pub exe: PathBuf,
    pub model: PathBuf,
    /// P0's input (`.npy`).
    pub input: PathBuf,
    /// Where each run writes its session (identities and session file).
    pub dir: PathBuf,
    /// The session timeout given to the parties, per message and for the set-up.
    pub timeout: Duration,
    /// How much longer than `timeout` a party may take to exit after the fault.
    pub slack: Duration,
}

/// The outcome of one run.
#[derive(Debug, Default)]
pub(super) struct Report {
    /// The victim was still running when the fault came (not already finished).
    pub landed: bool,
    /// When the fault did not land: how long the victim ran.
    pub victim_ran: Option<Duration>,
    /// Parties other than a killed victim that exited with a typed error naming a peer.
    pub errors: usize,
    /// Parties other than a killed victim that finished the inference (P0 with the right class).
    pub completed: usize,
    /// Longest time from the fault to a survivor's typed error.
    pub max_to_error: Option<Duration>,
    /// Everything that went wrong (empty: the run passed).
    pub failures: Vec<String>,
}

/// How a party's process ended.
struct Exit {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    at: Instant,
}

/// A party's part in a run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    /// Not the victim: must finish or fail naming a peer.
    Survivor,
    /// Stalled and resumed: must finish or fail with a typed error (it may not know whom to
    /// blame: its peers left while it was stopped).
    Resumed,
    /// Killed.
    Killed,
}

/// How a party ended, once judged acceptable.
enum Ending {
    Completed,
    TypedError,
    Killed,
}

impl Harness {
    /// Starts the three parties of a fresh session (number `n`), in role order.
    fn start(&self, n: usize) -> Result<[Child; 3], String> {
        let dir = self.dir.join(format!("run{n}"));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        loopback_config_with(&dir, 0, self.timeout, self.timeout).map_err(|e| e.to_string())?;
        let config = dir.join("session.toml");
        let spawn = |role| {
            party_command(&self.exe, role, &config, &self.model, &[], &self.input)
                .spawn()
                .map_err(|e| format!("starting {role}: {e}"))
        };
        Ok([spawn(Role::P0)?, spawn(Role::P1)?, spawn(Role::P2)?])
    }

    /// Run `n` without a fault: P0's class and how long each party ran.
    pub(super) fn clean(&self, n: usize) -> Result<(u64, [Duration; 3]), String> {
        let t0 = Instant::now();
        let mut children = self.start(n)?;
        let limit = t0 + 3 * self.timeout + self.slack;
        let exits = wait_all(children.iter_mut().collect(), limit);
        let mut class = None;
        let mut lengths = [Duration::ZERO; 3];
        for (role, exit) in Role::ALL.into_iter().zip(exits) {
            let exit = exit.ok_or(format!("{role} hung in the run without a fault"))?;
            if exit.code != Some(0) {
                return Err(format!("{role} failed without a fault: {}", exit.stderr));
            }
            if role == Role::P0 {
                class = PartyResult::parse(&exit.stdout)
                    .and_then(PartyResult::ran)
                    .ok()
                    .and_then(|run| run.class)
                    .map(|c| c as u64);
            }
            lengths[role.index()] = exit.at - t0;
        }
        let class = class.ok_or("P0 printed no class in the run without a fault")?;
        Ok((class, lengths))
    }

    /// Run `n`: `fault` hits `victim` `delay` after the start; `class` is the right answer.
    pub(super) fn faulty(
        &self,
        n: usize,
        fault: Fault,
        victim: Role,
        delay: Duration,
        class: u64,
    ) -> Result<Report, String> {
        let t0 = Instant::now();
        let mut children = self.start(n)?;
        std::thread::sleep(delay.saturating_sub(t0.elapsed()));
        let v = victim.index();
        let mut report = Report {
            landed: matches!(children[v].try_wait(), Ok(None)),
            ..Report::default()
        };
        let fault_at = Instant::now();
        if report.landed {
            match fault {
                Fault::Kill => children[v]
                    .kill()
                    .map_err(|e| format!("killing {victim}: {e}"))?,
                Fault::Stall => signal(&children[v], "STOP")?,
            }
        }
        let bound = self.timeout + self.slack;
        let [c0, c1, c2] = &mut children;
        let mut by_role = [Some(c0), Some(c1), Some(c2)];
        let victim_child = by_role[v].take().ok_or("victim index")?;
        let survivors: Vec<&mut Child> = by_role.into_iter().flatten().collect();
        let mut exits = wait_all(survivors, fault_at + bound);
        if fault == Fault::Stall && report.landed {
            signal(victim_child, "CONT")?;
        }
        exits.insert(
            v,
            wait_all(vec![victim_child], Instant::now() + bound).remove(0),
        );
        if !report.landed {
            report.victim_ran = exits[v].as_ref().map(|e| e.at - t0);
        }
        for (role, exit) in Role::ALL.into_iter().zip(exits) {
            let part = match (role == victim && report.landed, fault) {
                (false, _) => Part::Survivor,
                (true, Fault::Kill) => Part::Killed,
                (true, Fault::Stall) => Part::Resumed,
            };
            let Some(exit) = exit else {
                report
                    .failures
                    .push(format!("{role} still ran {bound:?} after the fault"));
                continue;
            };
            match judge(&exit, role, class, part) {
                Ok(Ending::Killed) => {}
                Ok(Ending::Completed) => report.completed += 1,
                Ok(Ending::TypedError) => {
                    report.errors += 1;
                    let took = exit.at.saturating_duration_since(fault_at);
                    if role != victim {
                        report.max_to_error = report.max_to_error.max(Some(took));
                    }
                    if role != victim && took > bound {
                        report
                            .failures
                            .push(format!("{role} took {took:?} to fail, over {bound:?}"));
                    }
                }
                Err(why) => report.failures.push(why),
            }
        }
        Ok(report)
    }
}

/// Accepts an ending of `role`: finished with the right result, a typed error (naming a peer,
/// for a survivor) with no result printed, or death by the signal for a killed victim.
fn judge(exit: &Exit, role: Role, class: u64, part: Part) -> Result<Ending, String> {
    let out = PartyResult::parse(&exit.stdout).ok();
    match (exit.code, out) {
        (None, _) if part == Part::Killed => Ok(Ending::Killed),
        (Some(0), Some(PartyResult::Ran(run)))
            if role != Role::P0 || run.class.map(|c| c as u64) == Some(class) =>
        {
            Ok(Ending::Completed)
        }
        (Some(0), _) => Err(format!(
            "{role} finished with a wrong or no result: {}",
            exit.stdout
        )),
        // A failure prints a `PartyFailure`, which has no output or class by construction.
        (Some(1), Some(PartyResult::Failed(failure)))
            if failure.peer.is_some_and(|p| Role::from(p) != role) || part == Part::Resumed =>
        {
            Ok(Ending::TypedError)
        }
        (Some(1), _) => Err(format!(
            "{role} failed without a typed error naming a peer: {} {}",
            exit.stdout.trim(),
            exit.stderr.trim()
        )),
        (code, _) => Err(format!(
            "{role} ended with exit code {code:?}: {}",
            exit.stderr.trim()
        )),
    }
}

/// Sends `SIGSTOP` or `SIGCONT` (`name`) to a child with the system's `kill`.
fn signal(child: &Child, name: &str) -> Result<(), String> {
    let status = Command::new("kill")
        .args(["-s", name, &child.id().to_string()])
        .status()
        .map_err(|e| format!("running kill: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("kill -s {name} {} failed", child.id()))
    }
}

/// Waits for the children until `deadline`, noting when each exits; those still running then
/// are killed and reported as `None`.
fn wait_all(mut children: Vec<&mut Child>, deadline: Instant) -> Vec<Option<Exit>> {
    let mut exits: Vec<Option<Exit>> = children.iter().map(|_| None).collect();
    let mut done = vec![false; children.len()];
    loop {
        for (k, child) in children.iter_mut().enumerate() {
            if done[k] {
                continue;
            }
            match child.try_wait() {
                Ok(Some(status)) => {
                    done[k] = true;
                    exits[k] = Some(Exit {
                        code: status.code(),
                        stdout: drain(child.stdout.take()),
                        stderr: drain(child.stderr.take()),
                        at: Instant::now(),
                    });
                }
                Ok(None) => {}
                Err(_) => done[k] = true,
            }
        }
        if done.iter().all(|d| *d) || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    for (k, child) in children.iter_mut().enumerate() {
        if !done[k] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    exits
}

/// Everything left in a finished child's pipe.
fn drain(pipe: Option<impl Read>) -> String {
    let mut text = String::new();
    if let Some(mut p) = pipe {
        let _ = p.read_to_string(&mut text);
    }
    text
}
