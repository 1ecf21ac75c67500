//! Tensors stored outside the model file (ONNX external data, what `torch.onnx.export` writes
//! by default: `model.onnx` plus `model.onnx.data`). A tensor names a file relative to the
//! model's directory and a byte range in it. Each file is read once, at most
//! [`MAX_EXTERNAL_BYTES`]; a location that is absolute or leaves the directory is refused.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use super::generated::TensorProto;

/// The largest external data file read (4 GiB: 2^28 weights as `f64` with room to spare).
pub(super) const MAX_EXTERNAL_BYTES: u64 = 4 << 30;

/// ONNX `TensorProto.DataLocation.EXTERNAL`.
const EXTERNAL: i32 = 1;

/// The external data files of one model, read on first use.
pub(super) struct ExternalFiles {
    /// The model's directory; `None` when the model came from bytes alone.
    dir: Option<PathBuf>,
    files: HashMap<String, Vec<u8>>,
}

impl ExternalFiles {
    /// External data resolved against `dir` (the model file's directory), or refused (`None`).
    pub(super) fn new(dir: Option<&Path>) -> ExternalFiles {
        ExternalFiles {
            dir: dir.map(Path::to_path_buf),
            files: HashMap::new(),
        }
    }

    /// The raw bytes of `t` when it is stored externally, `None` when it is inline. The error
    /// says what is wrong (the caller names the model and the tensor).
    pub(super) fn raw_data(&mut self, t: &TensorProto) -> Result<Option<&[u8]>, String> {
        if t.data_location != Some(EXTERNAL) {
            if !t.external_data.is_empty() {
                return Err("has external data entries but is not marked EXTERNAL".into());
            }
            return Ok(None);
        }
        let entry = |key: &str| {
            t.external_data
                .iter()
                .find(|e| e.key() == key)
                .map(|e| e.value())
        };
        let location = entry("location").ok_or("external data without a location")?;
        let number = |key: &str| -> Result<Option<u64>, String> {
            entry(key)
                .map(|v| {
                    v.parse::<u64>()
                        .map_err(|_| format!("external data {key} '{v}' is not a number"))
                })
                .transpose()
        };
        let (offset, length) = (number("offset")?.unwrap_or(0), number("length")?);
        let bytes = self.file(location)?;
        let size = bytes.len() as u64;
        let end = match length {
            Some(l) => offset.checked_add(l).filter(|&e| e <= size),
            None => (offset <= size).then_some(size),
        }
        .ok_or_else(|| {
            format!(
                "external data '{location}': bytes {offset}..{} are outside the file's {size}",
                length.map_or("end".to_string(), |l| (offset.saturating_add(l))
                    .to_string())
            )
        })?;
        Ok(Some(&bytes[offset as usize..end as usize]))
    }

    /// The contents of the data file at `location` (relative to the model's directory).
    fn file(&mut self, location: &str) -> Result<&[u8], String> {
        let Some(dir) = &self.dir else {
            return Err(format!(
                "its data is in the external file '{location}': load the model from its file, \
                 beside which the data file is looked for"
            ));
        };
        let relative = Path::new(location);
        if !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(format!(
                "external data location '{location}' must be a path inside the model's directory"
            ));
        }
        if !self.files.contains_key(location) {
            let path = dir.join(relative);
            let bytes = crate::file::read(&path, MAX_EXTERNAL_BYTES)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            self.files.insert(location.to_string(), bytes);
        }
        Ok(&self.files[location])
    }
}
