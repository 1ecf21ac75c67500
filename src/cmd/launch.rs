//! Starting one party of a loopback session as a `patchwork party` process of this executable,
//! for the commands that run the three parties as separate processes.

use std::path::Path;
use std::process::{Command, Stdio};

use patchwork_core::role::Role;

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
