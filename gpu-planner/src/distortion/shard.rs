//! Channel shards of a distortion run, the partial files that make a run resumable, and the
//! merge of shard files into one distortion table (`crate::table`, the input of the knapsack,
//! seed paper eq. 5).
//!
//! Shard `i/n` (0-based `i < n`) takes, in every ReLU layer of `C` channels, the channels
//! `floor(C*i/n) .. floor(C*(i+1)/n)`. A shard file is
//! `{"model", "model_digest", "data_digest", "samples", "max_side", "coarse_blocks",
//! ["base_spec", "base_spec_digest",] "shard": [i, n], "layers": [LayerPart...]}`, where a
//! [`LayerPart`] is a table layer restricted to `first_channel .. first_channel + rows`.

use std::fmt;
use std::ops::Range;
use std::path::Path;

use patchwork_core::patch::PatchSize;
use serde::{Deserialize, Serialize};

use super::candidates::CandidateSides;
use crate::table::{DistortionTable, LayerTable, TableError};

/// Shard `index` of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Which shard, from 0.
    pub index: usize,
    /// How many shards.
    pub count: usize,
}

impl Shard {
    /// The whole run.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parses `i/n` with `i < n`.
    pub fn parse(text: &str) -> Result<Shard, ShardError> {
        let bad = || ShardError::BadShard(text.to_string());
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// This shard's channels of a layer with `channels` channels.
    pub fn range(self, channels: usize) -> Range<usize> {
        let at = |k: usize| (channels as u128 * k as u128 / self.count as u128) as usize;
        at(self.index)..at(self.index + 1)
    }
}

/// Distortions of some consecutive channels of one layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerPart {
    /// The ReLU layer's name.
    pub name: String,
    /// Channels of the layer.
    pub channels: usize,
    /// Map height.
    pub height: usize,
    /// Map width.
    pub width: usize,
    /// The candidate patch sizes, in table order.
    pub patch_sizes: Vec<PatchSize>,
    /// The channel of `distortion[0]`.
    pub first_channel: usize,
    /// One row per channel from `first_channel` on, one value per patch size.
    pub distortion: Vec<Vec<f64>>,
}

/// A shard's results (complete or partial).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardFile {
    /// The model file the run read (its file name, for people).
    pub model: String,
    /// SHA-256 of the model as loaded: architecture and weights (`patchwork_model::digest`).
    #[serde(default)]
    pub model_digest: String,
    /// SHA-256 of the calibration inputs as the model saw them.
    #[serde(default)]
    pub data_digest: String,
    /// Calibration images.
    pub samples: usize,
    /// Which patch sides were tried (`max_side` and `coarse_blocks` at the top level).
    #[serde(flatten)]
    pub sides: CandidateSides,
    /// The base spec's file name, when the run measured a network with Block-ReLUs in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_spec: Option<String>,
    /// SHA-256 of the base spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_spec_digest: Option<String>,
    /// `[i, n]`.
    pub shard: [usize; 2],
    /// Finished layers.
    pub layers: Vec<LayerPart>,
}

impl ShardFile {
    /// What differs between the run `self` measured and `other`'s (model, data, candidate
    /// sides, base spec), as a reason; `None` when they measured the same thing. Shards of one
    /// run differ in their shard only.
    pub fn differs_from(&self, other: &ShardFile) -> Option<String> {
        let short = |d: &str| d.get(..12).unwrap_or(d).to_string();
        let checks = [
            (
                "model",
                short(&self.model_digest),
                short(&other.model_digest),
            ),
            (
                "calibration data",
                short(&self.data_digest),
                short(&other.data_digest),
            ),
            (
                "samples",
                self.samples.to_string(),
                other.samples.to_string(),
            ),
            (
                "candidate sides (max_side, coarse_blocks)",
                format!("{:?}", self.sides),
                format!("{:?}", other.sides),
            ),
            (
                "base spec",
                self.base_spec_digest
                    .as_deref()
                    .map_or("none".into(), short),
                other
                    .base_spec_digest
                    .as_deref()
                    .map_or("none".into(), short),
            ),
        ];
        checks
            .into_iter()
            .find(|(_, a, b)| a != b)
            .map(|(what, a, b)| format!("{what} differs (digest or value {a} vs {b})"))
    }
}

/// Why a shard could not be parsed, read or merged.
#[derive(Debug)]
pub enum ShardError {
    /// `--shard` is not `i/n` with `i < n`.
    BadShard(String),
    /// A shard file is not JSON of the expected shape.
    Json {
        /// The shard file.
        file: String,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// Shards measured different runs (model, data, samples, patch lists, base spec).
    Inconsistent {
        /// The file.
        file: String,
        /// What differs.
        what: String,
    },
    /// Two parts of a layer disagree on its shape or patch sizes.
    LayerMismatch {
        /// The layer's name.
        layer: String,
        /// The file.
        file: String,
    },
    /// A layer's channels are not covered exactly once.
    Coverage {
        /// The layer's name.
        layer: String,
        /// What is wrong.
        detail: String,
    },
    /// The files are shards of different splits (`i/n` with different `n`).
    ShardCounts {
        /// The file.
        file: String,
        /// Its shard count.
        count: usize,
        /// The first file's.
        first: usize,
    },
    /// One shard is given twice.
    DuplicateShard {
        /// The shard's `[i, n]`.
        shard: [usize; 2],
        /// The first file with it.
        first: String,
        /// The second.
        second: String,
    },
    /// Shards of the split are missing.
    MissingShards {
        /// The indices missing, of `count`.
        missing: Vec<usize>,
        /// The shard count.
        count: usize,
    },
    /// The merged table is invalid.
    Table(TableError),
}

impl fmt::Display for ShardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShardError::BadShard(s) => write!(f, "shard '{s}': expected i/n with 0 <= i < n"),
            ShardError::Json { file, source } => {
                write!(f, "{file}: not a distortion shard file: {source}")
            }
            ShardError::Inconsistent { file, what } => {
                write!(
                    f,
                    "{file}: measured another run than the first shard file: {what}"
                )
            }
            ShardError::LayerMismatch { layer, file } => write!(
                f,
                "{file}: layer '{layer}' has another shape or patch list than in an earlier file"
            ),
            ShardError::Coverage { layer, detail } => write!(f, "layer '{layer}': {detail}"),
            ShardError::ShardCounts { file, count, first } => write!(
                f,
                "{file}: a shard of {count}, the first file is a shard of {first}"
            ),
            ShardError::DuplicateShard {
                shard: [i, n],
                first,
                second,
            } => write!(f, "shard {i}/{n} is given twice: {first} and {second}"),
            ShardError::MissingShards { missing, count } => {
                let list: Vec<String> = missing.iter().map(|i| format!("{i}/{count}")).collect();
                match list.as_slice() {
                    [one] => write!(f, "shard {one} is missing"),
                    _ => write!(f, "shards {} are missing", list.join(", ")),
                }
            }
            ShardError::Table(e) => write!(f, "merged table is invalid: {e}"),
        }
    }
}

impl std::error::Error for ShardError {}

/// Rows of one layer part: its first channel and its distortion rows.
type Rows = (usize, Vec<Vec<f64>>);

/// Parses a shard file; `file` names it in errors.
pub fn parse_shard(file: &str, text: &str) -> Result<ShardFile, ShardError> {
    serde_json::from_str(text).map_err(|source| ShardError::Json {
        file: file.to_string(),
        source,
    })
}

/// Checks that `files` are the shards `0/n .. n-1/n` of one split, each once.
fn check_split(files: &[(String, ShardFile)]) -> Result<(), ShardError> {
    let Some((_, first)) = files.first() else {
        return Ok(());
    };
    let count = first.shard[1];
    let mut seen: Vec<Option<&str>> = vec![None; count];
    for (file, shard) in files {
        let [i, n] = shard.shard;
        if n != count {
            return Err(ShardError::ShardCounts {
                file: file.clone(),
                count: n,
                first: count,
            });
        }
        match seen.get_mut(i) {
            Some(Some(earlier)) => {
                return Err(ShardError::DuplicateShard {
                    shard: [i, n],
                    first: earlier.to_string(),
                    second: file.clone(),
                })
            }
            Some(slot) => *slot = Some(file),
            None => return Err(ShardError::BadShard(format!("{i}/{n}"))),
        }
    }
    let missing: Vec<usize> = (0..count).filter(|&i| seen[i].is_none()).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ShardError::MissingShards { missing, count })
    }
}

/// Merges shard files into a validated table: the shards `0/n .. n-1/n` of one split, each
/// once, all of the same run ([`ShardFile::differs_from`]); layers in the order of their first
/// appearance, every channel covered exactly once.
pub fn merge(files: &[(String, ShardFile)]) -> Result<DistortionTable, ShardError> {
    let mut layers: Vec<(LayerTable, Vec<Rows>)> = Vec::new();
    let first = files.first().map(|(_, f)| f);
    for (file, shard) in files {
        if let Some(what) = first.and_then(|first| first.differs_from(shard)) {
            return Err(ShardError::Inconsistent {
                file: file.clone(),
                what,
            });
        }
    }
    check_split(files)?;
    for (file, shard) in files {
        for part in &shard.layers {
            let head = LayerTable {
                name: part.name.clone(),
                channels: part.channels,
                height: part.height,
                width: part.width,
                patch_sizes: part.patch_sizes.clone(),
                distortion: Vec::new(),
            };
            match layers.iter_mut().find(|(l, _)| l.name == part.name) {
                Some((l, parts)) => {
                    if *l != head {
                        return Err(ShardError::LayerMismatch {
                            layer: part.name.clone(),
                            file: file.clone(),
                        });
                    }
                    parts.push((part.first_channel, part.distortion.clone()));
                }
                None => layers.push((head, vec![(part.first_channel, part.distortion.clone())])),
            }
        }
    }
    let mut table = DistortionTable::default();
    for (mut layer, mut parts) in layers {
        parts.sort_by_key(|(first, _)| *first);
        for (first, rows) in parts {
            let next = layer.distortion.len();
            if first != next {
                let detail = if first < next {
                    format!("channel {first} is covered twice")
                } else {
                    format!("channels {next}..{first} are missing")
                };
                return Err(ShardError::Coverage {
                    layer: layer.name,
                    detail,
                });
            }
            layer.distortion.extend(rows);
        }
        if layer.distortion.len() != layer.channels {
            let detail = format!(
                "shards cover {} of {} channels",
                layer.distortion.len(),
                layer.channels
            );
            return Err(ShardError::Coverage {
                layer: layer.name,
                detail,
            });
        }
        table.layers.push(layer);
    }
    table.validate().map_err(ShardError::Table)?;
    Ok(table)
}

/// Writes `contents` to `path` through a temporary file and a rename, so a crash never leaves a
/// half-written partial file.
pub fn write_atomic(path: &Path, contents: impl AsRef<[u8]>) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path)
}
