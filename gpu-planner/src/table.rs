//! Distortion tables: the measured `D(i, j)` of the seed paper's eq. (4) for every channel `C_i`
//! of every ReLU layer and every candidate patch size `P_ij` ("Knapsack Optimization").
//!
//! JSON form:
//! `{"layers": [{"name": "relu_3", "channels": C, "height": H, "width": W,
//!   "patch_sizes": [[ph, pw], ...], "distortion": [[d for each patch size] for each channel]}]}`
//! where a patch size is written as in the Block-ReLU spec (`[0, 1]` identity, `[1, 0]` zero).
//! Every layer lists its own candidate patch sizes `P_i` (shared by its channels); the DReLU
//! cost `W(i, j)` follows from the map size ([`PatchSize::drelu_count`]).

use std::collections::HashSet;
use std::fmt;

use patchwork_core::patch::PatchSize;
use serde::{Deserialize, Serialize};

/// Distortions of one ReLU layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerTable {
    /// The ONNX node name of the ReLU.
    pub name: String,
    /// Channels of the activation map.
    pub channels: usize,
    /// Height of the activation map.
    pub height: usize,
    /// Width of the activation map.
    pub width: usize,
    /// The candidate patch sizes of this layer.
    pub patch_sizes: Vec<PatchSize>,
    /// `distortion[c][j]`: distortion of channel `c` under `patch_sizes[j]`.
    pub distortion: Vec<Vec<f64>>,
}

/// Distortions of a whole model, layer by layer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DistortionTable {
    /// One table per ReLU layer.
    pub layers: Vec<LayerTable>,
}

/// Why a distortion table was rejected.
#[derive(Debug)]
pub enum TableError {
    /// The text is not JSON of the table's shape.
    Json(serde_json::Error),
    /// The table has no layers.
    NoLayers,
    /// Layer number `index` has an empty name.
    EmptyName {
        /// The layer's position in the table.
        index: usize,
    },
    /// Two layers share a name.
    DuplicateName {
        /// The repeated layer name.
        name: String,
    },
    /// `channels`, `height` or `width` is zero.
    ZeroDimension {
        /// The layer's name.
        layer: String,
        /// The dimension that is zero.
        field: &'static str,
    },
    /// `channels * height * width`, or the model's total ReLUs, does not fit in 64 bits.
    TooLarge {
        /// The layer's name.
        layer: String,
    },
    /// The layer lists no patch sizes.
    NoPatchSizes {
        /// The layer's name.
        layer: String,
    },
    /// A patch size is listed twice in one layer.
    DuplicatePatchSize {
        /// The layer's name.
        layer: String,
        /// The patch `[height, width]`.
        patch: [u32; 2],
    },
    /// A block patch is taller or wider than the map.
    PatchTooLarge {
        /// The layer's name.
        layer: String,
        /// The patch `[height, width]`.
        patch: [u32; 2],
        /// Map height.
        height: usize,
        /// Map width.
        width: usize,
    },
    /// `distortion` has a different number of rows than `channels`.
    ChannelCount {
        /// The layer's name.
        layer: String,
        /// What was expected.
        expected: usize,
        /// What was found.
        found: usize,
    },
    /// A channel's row has a different length than `patch_sizes`.
    RowLength {
        /// The layer's name.
        layer: String,
        /// The channel.
        channel: usize,
        /// What was expected.
        expected: usize,
        /// What was found.
        found: usize,
    },
    /// A distortion is NaN or infinite.
    NonFinite {
        /// The layer's name.
        layer: String,
        /// The channel.
        channel: usize,
        /// The patch `[height, width]`.
        patch: [u32; 2],
        /// The value.
        value: f64,
    },
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableError::Json(e) => write!(f, "distortion table is not valid JSON of the expected shape: {e}"),
            TableError::NoLayers => write!(f, "distortion table has no layers"),
            TableError::EmptyName { index } => write!(f, "layer #{index} has an empty name"),
            TableError::DuplicateName { name } => write!(f, "layer '{name}' appears more than once"),
            TableError::ZeroDimension { layer, field } => {
                write!(f, "layer '{layer}': {field} must be at least 1")
            }
            TableError::TooLarge { layer } => {
                write!(f, "layer '{layer}': the ReLU count (channels * height * width, or the model total) overflows 64 bits")
            }
            TableError::NoPatchSizes { layer } => write!(f, "layer '{layer}' lists no patch sizes"),
            TableError::DuplicatePatchSize { layer, patch } => {
                write!(f, "layer '{layer}': patch size [{}, {}] is listed twice", patch[0], patch[1])
            }
            TableError::PatchTooLarge { layer, patch, height, width } => write!(
                f,
                "layer '{layer}': patch size [{}, {}] is larger than the {height}x{width} map",
                patch[0], patch[1]
            ),
            TableError::ChannelCount { layer, expected, found } => write!(
                f,
                "layer '{layer}': distortion has {found} rows, expected one per channel ({expected})"
            ),
            TableError::RowLength { layer, channel, expected, found } => write!(
                f,
                "layer '{layer}', channel {channel}: distortion row has {found} values, expected one per patch size ({expected})"
            ),
            TableError::NonFinite { layer, channel, patch, value } => write!(
                f,
                "layer '{layer}', channel {channel}, patch size [{}, {}]: distortion {value} is not finite",
                patch[0], patch[1]
            ),
        }
    }
}

impl std::error::Error for TableError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TableError::Json(e) => Some(e),
            _ => None,
        }
    }
}

impl DistortionTable {
    /// Parses and validates a table from JSON text.
    pub fn from_json(text: &str) -> Result<Self, TableError> {
        let table: DistortionTable = serde_json::from_str(text).map_err(TableError::Json)?;
        table.validate()?;
        Ok(table)
    }

    /// Checks shapes, names and values; see [`TableError`] for what is rejected.
    pub fn validate(&self) -> Result<(), TableError> {
        if self.layers.is_empty() {
            return Err(TableError::NoLayers);
        }
        let mut names = HashSet::new();
        let mut relus = 0u64;
        for (index, layer) in self.layers.iter().enumerate() {
            if layer.name.is_empty() {
                return Err(TableError::EmptyName { index });
            }
            if !names.insert(layer.name.as_str()) {
                return Err(TableError::DuplicateName {
                    name: layer.name.clone(),
                });
            }
            layer.validate()?;
            relus = relus
                .checked_add(layer.relus())
                .ok_or_else(|| TableError::TooLarge {
                    layer: layer.name.clone(),
                })?;
        }
        Ok(())
    }

    /// Total ReLUs of the model, `sum over layers of C * H * W` (the denominator of a budget
    /// ratio). Call on a validated table; saturates instead of overflowing.
    pub fn total_relus(&self) -> u64 {
        self.layers
            .iter()
            .map(LayerTable::relus)
            .fold(0u64, u64::saturating_add)
    }

    /// Number of channels over all layers (the knapsack's classes).
    pub fn total_channels(&self) -> usize {
        self.layers.iter().map(|l| l.channels).sum()
    }
}

impl LayerTable {
    /// ReLUs of this layer, `C * H * W` (saturating).
    pub fn relus(&self) -> u64 {
        (self.channels as u64)
            .saturating_mul(self.height as u64)
            .saturating_mul(self.width as u64)
    }

    /// DReLU cost `W(i, j)` of patch size `j` for any channel of this layer.
    pub fn drelus(&self, j: usize) -> u64 {
        self.patch_sizes
            .get(j)
            .map_or(0, |p| p.drelu_count(self.height, self.width) as u64)
    }

    fn validate(&self) -> Result<(), TableError> {
        let layer = || self.name.clone();
        for (field, v) in [
            ("channels", self.channels),
            ("height", self.height),
            ("width", self.width),
        ] {
            if v == 0 {
                return Err(TableError::ZeroDimension {
                    layer: layer(),
                    field,
                });
            }
        }
        let too_large = (self.channels as u64)
            .checked_mul(self.height as u64)
            .and_then(|v| v.checked_mul(self.width as u64))
            .is_none();
        if too_large || self.height.checked_mul(self.width).is_none() {
            return Err(TableError::TooLarge { layer: layer() });
        }
        if self.patch_sizes.is_empty() {
            return Err(TableError::NoPatchSizes { layer: layer() });
        }
        let mut seen = HashSet::new();
        for p in &self.patch_sizes {
            if !seen.insert(*p) {
                return Err(TableError::DuplicatePatchSize {
                    layer: layer(),
                    patch: p.to_pair(),
                });
            }
            if !p.fits(self.height, self.width) {
                return Err(TableError::PatchTooLarge {
                    layer: layer(),
                    patch: p.to_pair(),
                    height: self.height,
                    width: self.width,
                });
            }
        }
        if self.distortion.len() != self.channels {
            return Err(TableError::ChannelCount {
                layer: layer(),
                expected: self.channels,
                found: self.distortion.len(),
            });
        }
        for (channel, row) in self.distortion.iter().enumerate() {
            if row.len() != self.patch_sizes.len() {
                return Err(TableError::RowLength {
                    layer: layer(),
                    channel,
                    expected: self.patch_sizes.len(),
                    found: row.len(),
                });
            }
            if let Some((j, &value)) = row.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(TableError::NonFinite {
                    layer: layer(),
                    channel,
                    patch: self.patch_sizes[j].to_pair(),
                    value,
                });
            }
        }
        Ok(())
    }
}
