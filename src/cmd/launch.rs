//! Starting one party of a loopback session as a `patchwork party` process of this executable,
//! for the commands that run the three parties as separate processes.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use patchwork_core::role::Role;

use super::party_result::{PartyResult, PartyRun};
use super::values::RoleArg;

/// The command line of `role`'s process: `patchwork party --json` with the session file, the
/// model, `extra` arguments shared by the three parties, and the input for P0. Standard
/// output and error are piped.
pub fn party_command(
    exe: &Path,
    role: Role,
    config: &Path,
    model: &Path,
    extra: &[String],
    input: &Path,
) -> Command {
    let mut c = Command::new(exe);
    c.args(["party", "--json", "--role", &format!("p{}", role.index())])
        .arg("--config")
        .arg(config)
        .arg("--model")
        .arg(model)
        .args(extra);
    if role == Role::P0 {
        c.arg("--input").arg(input);
    }
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

/// What one party process left: whether it succeeded, its standard output and error.
pub struct PartyExit {
    success: bool,
    stdout: String,
    stderr: String,
}

impl PartyExit {
    /// Waits for a party process started by [`party_command`] and keeps what it printed.
    pub fn wait(child: Child) -> Result<PartyExit, String> {
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        Ok(PartyExit {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// The completed run the party printed.
    pub fn ran(&self) -> Result<PartyRun, String> {
        PartyResult::parse(&self.stdout).and_then(PartyResult::ran)
    }

    /// Why the party failed: the error of its JSON result, or else its `error:` line on
    /// standard error, or else its last line there (warnings printed before the error are not
    /// the reason). The second value is the peer the party blames, if it names one.
    fn failure(&self) -> (String, Option<RoleArg>) {
        if let Ok(PartyResult::Failed(f)) = PartyResult::parse(&self.stdout) {
            return (f.error, f.peer);
        }
        let lines = || self.stderr.lines().map(str::trim).filter(|l| !l.is_empty());
        let message = lines()
            .find_map(|l| l.strip_prefix("error: "))
            .or_else(|| lines().next_back())
            .unwrap_or("no message (it exited with no output on standard error)");
        (message.to_string(), None)
    }
}

/// The failure to report when a session did not complete: the party whose own failure names no
/// peer (the one where it started; the others fail because it went away), else the first
/// party that failed, without the role its own message begins with (`P0: ...`). `None` when
/// all three succeeded.
pub fn first_failure(exits: &[PartyExit]) -> Option<String> {
    let failed: Vec<_> = exits
        .iter()
        .enumerate()
        .filter(|(_, e)| !e.success)
        .map(|(k, e)| (k, e.failure()))
        .collect();
    let (k, (message, _)) = failed
        .iter()
        .find(|(_, (_, peer))| peer.is_none())
        .or(failed.first())?;
    let own = format!("P{k}: ");
    let message = message.strip_prefix(&own).unwrap_or(message);
    Some(format!("P{k} failed: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::party_result::PartyFailure;

    fn exit(success: bool, stdout: &str, stderr: &str) -> PartyExit {
        PartyExit {
            success,
            stdout: stdout.into(),
            stderr: stderr.into(),
        }
    }

    fn failed_json(role: RoleArg, error: &str, peer: Option<RoleArg>) -> String {
        let failure = PartyResult::Failed(PartyFailure {
            role,
            error: error.into(),
            peer,
        });
        failure.to_string()
    }

    #[test]
    fn the_error_line_is_quoted_not_a_warning_before_it() {
        let warned = "warning: k_msb = 43 was not calibrated for this model\n\
                      error: 1.5 GB of preprocessed material exceeds the 4 GB bound\n";
        let exits = [
            exit(false, "", warned),
            exit(true, "", ""),
            exit(true, "", ""),
        ];
        assert_eq!(
            first_failure(&exits).as_deref(),
            Some("P0 failed: 1.5 GB of preprocessed material exceeds the 4 GB bound")
        );
        let no_error_line = [exit(false, "", "warning: first\nkilled\n")];
        assert_eq!(
            first_failure(&no_error_line).as_deref(),
            Some("P0 failed: killed")
        );
        let own_role = [exit(
            false,
            "",
            "error: P0: node '<input>': input value NaN\n",
        )];
        assert_eq!(
            first_failure(&own_role).as_deref(),
            Some("P0 failed: node '<input>': input value NaN")
        );
        let ok = [exit(true, "", "warning: w\n"), exit(true, "", "")];
        assert_eq!(first_failure(&ok), None);
    }

    #[test]
    fn the_party_where_the_failure_started_is_reported_not_the_ones_it_took_down() {
        let exits = [
            exit(
                false,
                &failed_json(RoleArg::P0, "P1 closed the connection", Some(RoleArg::P1)),
                "error: P1 closed the connection\n",
            ),
            exit(
                false,
                &failed_json(RoleArg::P1, "spec does not fit layer /relu", None),
                "warning: w\nerror: spec does not fit layer /relu\n",
            ),
            exit(
                false,
                &failed_json(RoleArg::P2, "P1 closed the connection", Some(RoleArg::P1)),
                "",
            ),
        ];
        assert_eq!(
            first_failure(&exits).as_deref(),
            Some("P1 failed: spec does not fit layer /relu")
        );
    }
}
