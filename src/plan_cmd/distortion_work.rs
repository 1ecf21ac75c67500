//! `patchwork plan distortion --dry-run`: the work a run (or one shard of it) would do, layer by
//! layer, without loading data or measuring anything: the channels of the shard, the map, the
//! candidate patch sizes `P_i` (seed paper, "Knapsack Optimization") and the hypothesis-image
//! pairs of eq. 4. For sizing a job array before submitting it (README, "Planning on a
//! cluster").

use std::io::{self, Write};

use patchwork_planner::distortion::candidates::CandidateSides;
use patchwork_planner::distortion::extract::ReluLayer;
use patchwork_planner::distortion::shard::Shard;
use serde::Serialize;

/// One layer's share of the work.
#[derive(Debug, Serialize)]
struct LayerWork {
    name: String,
    /// The shard's channels, `[first, end)`, of `of`.
    channels: [usize; 2],
    of: usize,
    height: usize,
    width: usize,
    candidates: usize,
    pairs: u64,
}

/// Writes the work of `shard` over `layers` for `images` calibration images, as a table or
/// (with `json`) one JSON object.
pub(super) fn print(
    layers: &[ReluLayer],
    sides: CandidateSides,
    shard: Shard,
    images: usize,
    json: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    let work: Vec<LayerWork> = layers
        .iter()
        .map(|l| {
            let (c, h, w) = l.chw;
            let range = shard.range(c);
            let candidates = sides.patch_sizes(h, w).len();
            LayerWork {
                name: l.name.clone(),
                channels: [range.start, range.end],
                of: c,
                height: h,
                width: w,
                candidates,
                pairs: (range.len() * candidates * images) as u64,
            }
        })
        .collect();
    let total: u64 = work.iter().map(|l| l.pairs).sum();
    if json {
        let summary = serde_json::json!({"shard": [shard.index, shard.count], "images": images,
            "layers": work, "pairs": total});
        return writeln!(out, "{summary}");
    }
    writeln!(
        out,
        "shard {}/{} of {} ReLU layers, {images} images (a dry run: nothing measured)",
        shard.index,
        shard.count,
        layers.len()
    )?;
    let width = work.iter().map(|l| l.name.len()).max().unwrap_or(0).max(5);
    writeln!(
        out,
        "{:width$}  {:>15}  {:>9}  {:>10}  {:>14}",
        "layer", "channels", "map", "candidates", "pairs"
    )?;
    for l in &work {
        writeln!(
            out,
            "{:width$}  {:>15}  {:>9}  {:>10}  {:>14}",
            l.name,
            format!("{}..{} of {}", l.channels[0], l.channels[1], l.of),
            format!("{}x{}", l.height, l.width),
            l.candidates,
            l.pairs
        )?;
    }
    writeln!(out, "{:width$}  {total:>54}", "total")
}
