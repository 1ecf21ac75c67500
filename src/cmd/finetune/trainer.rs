//! Runs the PyTorch trainer (`python/finetune.py`, compiled into the binary) in the Python
//! environment of `$PATCHWORK_VENV` on a bundle directory, shows its progress and collects its
//! events (one JSON object per line on its stdout).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// The trainer's source, written into the bundle before it runs.
const TRAINER: &str = include_str!("../../../python/finetune.py");

/// The Python environment: `$PATCHWORK_VENV`, else `~/.cache/patchwork-venv`.
pub fn venv_dir() -> PathBuf {
    match std::env::var_os("PATCHWORK_VENV") {
        Some(v) => PathBuf::from(v),
        None => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/root"))
            .join(".cache/patchwork-venv"),
    }
}

/// The venv's Python, checked to import torch and numpy; the error says how to make one.
pub fn python() -> Result<PathBuf, String> {
    let venv = venv_dir();
    let py = venv.join("bin/python");
    let create = format!(
        "create it with `python3 -m venv {v} && {v}/bin/pip install torch numpy`, or point \
         PATCHWORK_VENV at an environment that has them",
        v = venv.display()
    );
    if !py.exists() {
        return Err(format!(
            "finetune needs a Python environment with PyTorch: none at {} (PATCHWORK_VENV); {create}",
            venv.display()
        ));
    }
    let probe = Command::new(&py)
        .args(["-c", "import torch, numpy"])
        .output()
        .map_err(|e| format!("{}: {e}", py.display()))?;
    if !probe.status.success() {
        return Err(format!(
            "{} cannot import torch and numpy ({}); {create}",
            py.display(),
            String::from_utf8_lossy(&probe.stderr)
                .lines()
                .last()
                .unwrap_or("no message")
        ));
    }
    Ok(py)
}

/// What the trainer reported.
#[derive(Debug, Default)]
pub struct Report {
    /// The `start` event (data sizes, the accuracies before training).
    pub start: Value,
    /// One `epoch` event per epoch.
    pub epochs: Vec<Value>,
    /// The `done` event (the final test accuracy).
    pub done: Value,
}

/// Runs the trainer on `bundle` with `py`, drawing a progress bar of `epochs` epochs on
/// stderr and calling `on_epoch` with each epoch's event.
pub fn run(
    py: &Path,
    bundle: &Path,
    epochs: usize,
    mut on_epoch: impl FnMut(&Value),
) -> Result<Report, String> {
    let script = bundle.join("finetune.py");
    std::fs::write(&script, TRAINER).map_err(|e| format!("{}: {e}", script.display()))?;
    let mut child = Command::new(py)
        .arg(&script)
        .arg(bundle)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", py.display()))?;
    let stdout = child.stdout.take().ok_or("the trainer's stdout")?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} fine-tuning [{bar:30}] {pos}/{len} steps, {msg} ({elapsed}, eta {eta})",
        )
        .map_err(|e| e.to_string())?
        .progress_chars("=> "),
    );
    let mut report = Report::default();
    let mut error = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| format!("reading the trainer's output: {e}"))?;
        let Ok(event) = serde_json::from_str::<Value>(&line) else {
            bar.println(line);
            continue;
        };
        match event["event"].as_str() {
            Some("start") => {
                let steps = event["steps_per_epoch"].as_u64().unwrap_or(0);
                bar.set_length(steps * epochs as u64);
                report.start = event;
            }
            Some("step") => {
                bar.inc(1);
                let loss = event["loss"].as_f64().unwrap_or(f64::NAN);
                bar.set_message(format!("epoch {}, loss {loss:.4}", event["epoch"]));
            }
            Some("epoch") => {
                bar.suspend(|| on_epoch(&event));
                report.epochs.push(event);
            }
            Some("done") => report.done = event,
            Some("error") => error = event["message"].as_str().map(String::from),
            _ => bar.println(line),
        }
    }
    bar.finish_and_clear();
    let status = child.wait().map_err(|e| format!("the trainer: {e}"))?;
    match error {
        Some(message) => Err(format!("the trainer refused: {message}")),
        None if !status.success() => Err(format!(
            "the trainer failed with {status}; its messages are above"
        )),
        None if report.done.is_null() => Err("the trainer ended without a result".into()),
        None => Ok(report),
    }
}
