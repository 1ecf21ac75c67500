//! Fuzzes the spec parser and the spec check against the bundled model
//! (`models/fashion_resnet.onnx`, loaded once). Properties: nothing panics; a parsed spec
//! survives a JSON round trip unchanged; a spec that fits the model never needs more DReLUs
//! than plain ReLU in any layer.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use patchwork_core::model::spec_check::drelu_summary;
use patchwork_core::model::Model;
use patchwork_model::onnx::import_bytes;
use patchwork_model::spec_io::parse_spec;

/// The bundled model, imported on first use.
fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        let bytes = include_bytes!("../../models/fashion_resnet.onnx");
        let trained = import_bytes("models/fashion_resnet.onnx", bytes);
        trained.expect("the bundled model imports").into_parts().0
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = parse_spec("fuzz.json", data) else {
        return;
    };
    let json = serde_json::to_vec(&spec).expect("a spec serializes");
    let again = parse_spec("round trip", &json).expect("a serialized spec parses");
    assert_eq!(again, spec, "JSON round trip changed the spec");
    if let Ok(summary) = drelu_summary(model(), &spec) {
        for layer in &summary.layers {
            assert!(
                layer.with_spec <= layer.plain,
                "{}: more DReLUs",
                layer.name
            );
        }
    }
});
