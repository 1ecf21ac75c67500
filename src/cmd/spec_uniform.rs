//! `patchwork spec uniform`: the same patch size for every channel of every ReLU layer (the
//! seed paper's constant-patch baseline; 4x4 keeps about 6% of the DReLUs), written as a spec,
//! for a budget without a distortion table.
//!
//! `patchwork spec uniform --model M.onnx --patch 4x4 --out S.json`

use std::path::PathBuf;

use clap::Args;
use patchwork_core::model::spec_check::{drelu_summary, relu_layer_patches, SpecError};
use patchwork_core::model::Model;
use patchwork_core::patch::PatchSize;
use patchwork_core::spec::{LayerSpec, Spec};
use patchwork_model::commands;

use super::models::LoadArgs;
use crate::output;

/// Arguments of `patchwork spec uniform`.
#[derive(Args, Debug, Clone)]
pub struct SpecUniformArgs {
    /// ONNX model file, or its architecture file.
    #[arg(long)]
    pub model: PathBuf,
    /// The patch `HxW` of every channel (cut to maps smaller than it).
    #[arg(long, value_parser = parse_patch)]
    pub patch: PatchSize,
    /// Where to write the spec; `-` for stdout (the report then goes to stderr).
    #[arg(long, value_name = "S.json")]
    pub out: PathBuf,
    /// How the model is loaded: the input shape of symbolic dimensions and the transforms.
    #[command(flatten)]
    pub load: LoadArgs,
}

/// `HxW` with both sides at least 1.
fn parse_patch(s: &str) -> Result<PatchSize, String> {
    let side = |v: &str| v.trim().parse::<u32>().ok().filter(|&n| n >= 1);
    s.split_once('x')
        .and_then(|(h, w)| PatchSize::from_pair(side(h)?, side(w)?))
        .ok_or_else(|| format!("'{s}': expected a patch HxW with both sides at least 1, e.g. 4x4"))
}

/// The spec with `patch` for every channel of every ReLU and ReLU6 layer of `model`, cut to maps
/// smaller than it.
pub fn uniform_spec(model: &Model, patch: PatchSize) -> Result<Spec, SpecError> {
    let mut layers = Vec::new();
    for (i, node) in model.nodes.iter().enumerate() {
        if !node.op.takes_patches() {
            continue;
        }
        let (_, (c, h, w)) = relu_layer_patches(model, i, &Spec::default())?;
        let [ph, pw] = patch.to_pair();
        let fit = |p: u32, side: usize| p.min(side.try_into().unwrap_or(u32::MAX)).max(1);
        let patch = PatchSize::from_pair(fit(ph, h), fit(pw, w)).unwrap_or(PatchSize::RELU);
        layers.push(LayerSpec {
            name: node.name.clone(),
            patch_sizes: vec![patch; c],
        });
    }
    Ok(Spec {
        layers,
        calibration: None,
    })
}

/// Runs `patchwork spec uniform`.
pub fn run(args: &SpecUniformArgs) -> Result<(), String> {
    let model = commands::load_public(&args.model, &args.load.options())
        .map_err(|e| e.to_string())?
        .model;
    let spec = uniform_spec(&model, args.patch).map_err(|e| e.to_string())?;
    let summary = drelu_summary(&model, &spec).map_err(|e| e.to_string())?;
    let json = serde_json::to_string(&spec).map_err(|e| e.to_string())?;
    let mut stdout = std::io::stdout();
    output::write_data(&args.out, &json, &mut stdout)
        .map_err(|e| format!("cannot write {}: {e}", output::display(&args.out)))?;
    eprintln!(
        "{} ReLU layers, {} of {} DReLUs ({:.2}%); wrote {}",
        summary.layers.len(),
        summary.with_spec(),
        summary.plain(),
        100.0 * summary.ratio(),
        output::display(&args.out)
    );
    Ok(())
}
