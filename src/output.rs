//! Where a command writes its data: a file (through a temporary file and a rename, so a crash
//! never leaves half of one), or standard output for `-`. When the data goes to standard output
//! the command's report goes to standard error, so `patchwork plan knapsack ... --out - | jq`
//! reads the spec alone.

use std::io::{self, Write};
use std::path::Path;

use patchwork_planner::distortion::shard::write_atomic;

/// Whether `path` is `-`, standard output.
pub fn is_stdout(path: &Path) -> bool {
    path == Path::new("-")
}

/// How an output path is named in messages: `<stdout>` for `-`.
pub fn display(path: &Path) -> String {
    if is_stdout(path) {
        "<stdout>".to_string()
    } else {
        path.display().to_string()
    }
}

/// Writes `text` (and a newline) to `path`, or to `stdout` for `-`.
pub fn write_data(path: &Path, text: &str, stdout: &mut dyn Write) -> io::Result<()> {
    if is_stdout(path) {
        stdout.write_all(text.as_bytes())?;
        stdout.write_all(b"\n")?;
        stdout.flush()
    } else {
        write_atomic(path, text)
    }
}

/// Where the report of a command writing to `path` goes: `stdout`, or `stderr` when the data
/// itself went to standard output.
pub fn report_to<'a>(
    path: &Path,
    stdout: &'a mut dyn Write,
    stderr: &'a mut io::Stderr,
) -> &'a mut dyn Write {
    if is_stdout(path) {
        stderr
    } else {
        stdout
    }
}
