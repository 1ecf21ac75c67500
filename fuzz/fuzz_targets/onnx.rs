//! Fuzzes the ONNX reader: `import_bytes` on arbitrary bytes returns a checked model or a typed
//! error, never panics. An imported model's ReLU layers are then counted (which walks the
//! shapes of the graph), as `patchwork spec stats` does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patchwork_core::model::spec_check::drelu_summary;
use patchwork_core::spec::Spec;
use patchwork_model::onnx::import_bytes;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = import_bytes("fuzz.onnx", data) {
        // A ReLU of rank other than 2 or 4 is a typed error here; only a panic is a failure.
        let _ = drelu_summary(model.model(), &Spec::default());
    }
});
