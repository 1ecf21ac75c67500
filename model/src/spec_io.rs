//! Reading a Block-ReLU spec from JSON (format: `model/SPEC_FORMAT.md`).

use std::path::Path;

use patchwork_core::spec::Spec;

/// Why a spec file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SpecIoError {
    /// The file cannot be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not spec JSON.
    #[error("{path}: invalid Block-ReLU spec JSON (expected {{\"layers\": [{{\"name\": ..., \"patch_sizes\": [[ph, pw], ...]}}]}}): {source}")]
    Json {
        /// The file.
        path: String,
        /// The underlying error.
        source: serde_json::Error,
    },
}

/// The largest spec file read (a spec lists one patch size per channel).
pub const MAX_SPEC_BYTES: u64 = 64 << 20;

/// Reads a spec file (`-`: standard input).
pub fn load_spec(path: &Path) -> Result<Spec, SpecIoError> {
    let name = crate::file::display(path);
    let bytes = crate::file::read(path, MAX_SPEC_BYTES).map_err(|source| SpecIoError::Io {
        path: name.clone(),
        source,
    })?;
    parse_spec(&name, &bytes)
}

/// Parses spec JSON; `name` names the bytes in errors. Invalid UTF-8 is a JSON error. Never
/// panics on malformed input (fuzzed: `fuzz/fuzz_targets/spec.rs`).
pub fn parse_spec(name: &str, bytes: &[u8]) -> Result<Spec, SpecIoError> {
    serde_json::from_slice(bytes).map_err(|source| SpecIoError::Json {
        path: name.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use patchwork_core::patch::PatchSize;

    #[test]
    fn parses_a_spec_and_names_the_source_of_bad_bytes() {
        let spec = parse_spec(
            "s.json",
            br#"{"layers": [{"name": "r", "patch_sizes": [[0, 1]]}]}"#,
        )
        .unwrap();
        assert_eq!(spec.layers[0].patch_sizes, [PatchSize::Identity]);
        for bad in [
            &b"\xff"[..],
            b"{\"layers\": [{\"name\": \"r\", \"patch_sizes\": [[0, 0]]}]}",
        ] {
            let e = parse_spec("s.json", bad).unwrap_err();
            assert!(matches!(e, SpecIoError::Json { .. }), "{e:?}");
            assert!(e
                .to_string()
                .starts_with("s.json: invalid Block-ReLU spec JSON"));
        }
    }

    #[test]
    fn a_calibration_without_p1s_statistics_reads_them_as_zero() {
        let spec = parse_spec(
            "s.json",
            br#"{"layers": [], "calibration": {"frac_bits": 12, "margin": 4, "max_error": 0,
                "images": 8, "windows": [{"name": "r", "k_msb": 40, "k_lsb": 2}]}}"#,
        )
        .unwrap();
        let w = &spec.calibration.unwrap().windows[0];
        assert_eq!((w.k_msb, w.k_lsb, w.max_abs, w.count), (40, 2, 0.0, 0));
        let missing_window = br#"{"layers": [], "calibration": {"frac_bits": 12, "margin": 4,
            "max_error": 0, "images": 8, "windows": [{"name": "r", "k_msb": 40}]}}"#;
        assert!(parse_spec("s.json", missing_window).is_err());
    }
}
