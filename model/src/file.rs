//! The files a command reads, where the path `-` names standard input (`patchwork infer
//! --input - < x.npy`). Reads are bounded: a file or stream longer than the caller's limit is
//! refused before it is held in memory.

use std::io::Read;
use std::path::Path;

/// Whether `path` is `-`, standard input.
pub fn is_stdin(path: &Path) -> bool {
    path == Path::new("-")
}

/// How a path is named in messages: `<stdin>` for `-`.
pub fn display(path: &Path) -> String {
    if is_stdin(path) {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    }
}

/// Reads all of `path` (or standard input for `-`), refusing more than `limit` bytes.
pub fn read(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if is_stdin(path) {
        std::io::stdin()
            .lock()
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes)?;
    } else {
        std::fs::File::open(path)?
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes)?;
    }
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("longer than the {limit} bytes allowed here"),
        ));
    }
    Ok(bytes)
}
