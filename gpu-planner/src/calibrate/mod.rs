//! Calibrated approximate-DReLU windows (seed paper, "Approximate DReLU"): for every node the
//! secure runner evaluates with comparisons, the values its comparisons see on real data,
//! measured on the float reference in the fixed point of the run, and a window per node chosen
//! from them ([`range::Range::window`]).
//!
//! What a node compares: a ReLU or Block-ReLU the sums of its patches (a plain channel's
//! patch is one pixel; identity and zero channels compare nothing), a plain ReLU6 `x` and
//! `x - 6`, a Block-ReLU6 its patch sums and then `BlockReLU(x) - 6`, a
//! MaxPool the differences of its tournament of pairs, level by level as the protocol pairs
//! them.

pub mod range;

use ndarray::ArrayD;
use patchwork_core::fixed_point::FixedPoint;
use patchwork_core::model::spec_check::{plain_relu6, ResolvedSpec};
use patchwork_core::model::{Op, Pool2d, TrainedModel, RELU6_CAP};
use patchwork_core::protocol::brelu::{MapShape, PatchPlan};
use patchwork_core::protocol::drelu::Comparison;
use patchwork_core::protocol::maxpool::Pool;
use patchwork_core::spec::{Calibration, LayerWindow};
use patchwork_model::reference::{block_relu_layer, forward_all, ForwardError};

use range::Range;

/// Why a calibration could not run.
#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    /// The float reference failed.
    #[error(transparent)]
    Forward(#[from] ForwardError),
    /// A value the node compares cannot be encoded at the run's fractional bits.
    #[error("node '{node}': value {value} cannot be encoded with {frac_bits} fractional bits")]
    Encode {
        /// The node's name.
        node: String,
        /// The value.
        value: f32,
        /// The fractional bits.
        frac_bits: u32,
    },
    /// A node's input is not an NCHW map where it must be.
    #[error("node '{node}': expects an NCHW map")]
    NotMap {
        /// The node's name.
        node: String,
    },
    /// No image was measured.
    #[error("no image was measured (is the data source empty?)")]
    NoImages,
}

/// How windows are chosen from the measured ranges.
#[derive(Clone, Copy, Debug)]
pub struct WindowRule {
    /// Fractional bits of the run.
    pub fp: FixedPoint,
    /// The window holds `margin` times the largest magnitude measured.
    pub margin: f64,
    /// The expected fraction of a node's comparisons its dropped low bits may flip.
    pub max_error: f64,
}

/// The ranges of a model's comparing nodes, image by image.
pub struct Calibrator<'a> {
    trained: &'a TrainedModel,
    spec: &'a ResolvedSpec,
    fp: FixedPoint,
    /// One range per node (`None` for nodes that make no comparison).
    ranges: Vec<Option<Range>>,
    images: usize,
}

impl<'a> Calibrator<'a> {
    /// A calibrator of `trained` with the Block-ReLUs of `spec`, in the fixed point `fp`.
    pub fn new(trained: &'a TrainedModel, spec: &'a ResolvedSpec, fp: FixedPoint) -> Self {
        let ranges = trained
            .model()
            .nodes
            .iter()
            .map(|n| n.op.compares().then(Range::default))
            .collect();
        Calibrator {
            trained,
            spec,
            fp,
            ranges,
            images: 0,
        }
    }

    /// Runs the float reference on one image and adds what every comparing node compares.
    pub fn add_image(&mut self, input: &ArrayD<f32>) -> Result<(), CalibrateError> {
        let values = forward_all::<f32>(self.trained, input, self.spec)?;
        let model = self.trained.model();
        for (index, (node, range)) in model.nodes.iter().zip(&mut self.ranges).enumerate() {
            let Some(range) = range else { continue };
            let x = values[node.inputs[0]].as_deref().unwrap_or(&[]);
            let fp = self.fp;
            let enc = |v: f32| {
                fp.encode(v)
                    .map(|e| e as i64)
                    .map_err(|_| CalibrateError::Encode {
                        node: node.name.clone(),
                        value: v,
                        frac_bits: fp.frac_bits(),
                    })
            };
            match &node.op {
                Op::Relu | Op::Relu6 => {
                    let Some((sizes, (c, h, w))) = self.spec.layer(index) else {
                        continue;
                    };
                    if plain_relu6(&node.op, sizes) {
                        let six = enc(RELU6_CAP)?;
                        for &v in x {
                            let e = enc(v)?;
                            range.add(e);
                            range.add(e - six);
                        }
                        continue;
                    }
                    let shape = MapShape {
                        channels: *c,
                        height: *h,
                        width: *w,
                    };
                    let plan = PatchPlan::new(shape, sizes);
                    let mut sums = vec![0i64; plan.patches];
                    let mut encoded = Ok(());
                    plan.for_each_pixel(|pix, p| match enc(x[pix]) {
                        Ok(e) => sums[p] = sums[p].wrapping_add(e),
                        Err(e) if encoded.is_ok() => encoded = Err(e),
                        Err(_) => {}
                    });
                    encoded?;
                    sums.into_iter().for_each(|s| range.add(s));
                    // A Block-ReLU6's clamp compares `BlockReLU(x) - 6`.
                    if let Some(cap) = node.op.cap() {
                        let six = enc(cap)?;
                        let mut y = x.to_vec();
                        block_relu_layer(&mut y, *h, *w, sizes, None);
                        for v in y {
                            range.add(enc(v)? - six);
                        }
                    }
                }
                Op::MaxPool(pool) => {
                    let (c, h, w) = model.shape(node.inputs[0]).chw().ok_or_else(|| {
                        CalibrateError::NotMap {
                            node: node.name.clone(),
                        }
                    })?;
                    let shape = MapShape {
                        channels: c,
                        height: h,
                        width: w,
                    };
                    let encoded = x.iter().map(|&v| enc(v)).collect::<Result<Vec<_>, _>>()?;
                    tournament(pool, shape, &encoded, range);
                }
                _ => {}
            }
        }
        self.images += 1;
        Ok(())
    }

    /// The windows: one per comparing node that compared anything, with its range.
    pub fn finish(self, rule: WindowRule) -> Result<Calibration, CalibrateError> {
        if self.images == 0 {
            return Err(CalibrateError::NoImages);
        }
        let scale = 2f64.powi(rule.fp.frac_bits() as i32);
        let windows = self
            .trained
            .model()
            .nodes
            .iter()
            .zip(&self.ranges)
            .filter_map(|(node, range)| {
                let range = range.as_ref().filter(|r| r.count() > 0)?;
                let Comparison::Approx { k_msb, k_lsb } =
                    range.window(rule.fp, rule.margin, rule.max_error)
                else {
                    return None;
                };
                Some(LayerWindow {
                    name: node.name.clone(),
                    k_msb,
                    k_lsb,
                    max_abs: range.max_abs() as f64 / scale,
                    q999: range.quantile(0.999) / scale,
                    count: range.count(),
                    error_rate: range.error_rate(k_lsb),
                })
            })
            .collect();
        Ok(Calibration {
            frac_bits: rule.fp.frac_bits(),
            margin: rule.margin,
            max_error: rule.max_error,
            images: self.images,
            model_digest: Some(patchwork_model::digest::model_digest(self.trained)),
            windows,
        })
    }
}

/// Adds the differences MaxPool's protocol compares: each level pairs a window's remaining
/// candidates in order and keeps the larger of each pair (an odd one out passes on).
fn tournament(pool: &Pool2d, shape: MapShape, x: &[i64], range: &mut Range) {
    let pool = Pool {
        kernel: pool.kernel,
        stride: pool.stride,
        pad: pool.padding,
    };
    for window in pool.windows(shape) {
        let mut cands: Vec<i64> = window.iter().map(|&i| x[i]).collect();
        while cands.len() > 1 {
            cands = cands
                .chunks(2)
                .map(|pair| {
                    if let [a, b] = *pair {
                        range.add(b.wrapping_sub(a));
                        a.max(b)
                    } else {
                        pair[0]
                    }
                })
                .collect();
        }
    }
}
