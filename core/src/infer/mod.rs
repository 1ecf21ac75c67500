//! Secure inference of a whole [`Model`]: every party walks the same graph with its role as a
//! value. P0 gives the input and alone learns the output, P1 gives the weights (and biases, a
//! [`Weights`] table apart from the public architecture), P2 deals. Linear operators are local
//! ([`local`]); convolutions and fully connected layers are products with the weights as a
//! private operand of P1, masked once in [`SecureModel::setup`];
//! ReLUs are Block-ReLUs with the spec's patch sizes (plain ReLU where the spec is silent),
//! with exact or approximate DReLU.
//!
//! Fixed point: activations carry `f` fractional bits; a product carries `2f` and is truncated
//! back to `f` ([`Truncation`]: locally as in SecureML, or assisted by P2), after which P1 adds
//! its bias.

pub mod local;

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::cost::{self, Cost};
use crate::fixed_point::FixedPoint;
use crate::held::Held;
use crate::model::spec_check::{plain_relu6, ResolvedSpec, SpecError};
use crate::model::windows;
use crate::model::{softmax, LayerWeights, Model, ModelError, Node, Op, Weights, RELU6_CAP};
use crate::party::{Error, Party};
use crate::preprocess::{Phase, Prepared};
use crate::program::{self, Program};
use crate::protocol::bilinear::{Batched, Bilinear, Conv2d, MatMul};
use crate::protocol::brelu::{BlockReluLayer, MapShape};
use crate::protocol::drelu::{relu, Comparison};
use crate::protocol::maxpool::{max_pool, Pool};
use crate::protocol::product::PrivateOperand;
use crate::protocol::sign::SignProtocol;
use crate::protocol::truncate::{truncate, Truncation};
use crate::role::Role;
use crate::spec::Spec;
use crate::transport::Transport;

/// The most images one inference takes ([`Settings::batch`]): every activation of the batch is
/// held at once, so this bounds a party's memory at the model's per-image need times it.
pub const MAX_BATCH: usize = 1024;

/// How the secure forward pass computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The fixed-point encoding (fractional bits).
    pub fp: FixedPoint,
    /// How DReLU compares: exact or approximate (for a Block-ReLU, widened for its largest
    /// patch, [`Comparison::for_patch`]). With `calibrated`, only where the spec has no window.
    pub cmp: Comparison,
    /// How products are truncated back to `f` fractional bits.
    pub trunc: Truncation,
    /// Whether each node with a window calibrated in the spec compares in it
    /// ([`crate::model::windows`]). Without, `cmp` must hold every recorded range.
    pub calibrated: bool,
    /// Images per inference (at least 1): P0's input is this many images one after another,
    /// and every step of the pass runs on all of them at once, so the rounds of an inference
    /// are paid once per batch.
    pub batch: usize,
    /// Whether each inference's input-independent part runs before its input exists
    /// ([`crate::preprocess`]): [`SecureModel::preprocess`] then [`SecureModel::infer_prepared`].
    pub preprocess: bool,
    /// How the sign steps decide: SecureNN's PrivateCompare (3 rounds per ReLU) or the FSS
    /// comparison with keys P2 deals (2 rounds; [`crate::protocol::fss_sign`]).
    pub sign: SignProtocol,
}

impl Settings {
    /// The seed paper's setting: 12 fractional bits, approximate DReLU (43, 5), local
    /// truncation (the firmware's, and the demo's).
    pub const PAPER: Settings = Settings {
        fp: FixedPoint::F12,
        cmp: Comparison::PAPER,
        trunc: Truncation::Local,
        calibrated: false,
        batch: 1,
        preprocess: false,
        sign: SignProtocol::PrivateCompare,
    };
}

impl Default for Settings {
    /// 12 fractional bits, exact DReLU, local truncation.
    fn default() -> Self {
        Settings {
            fp: FixedPoint::F12,
            cmp: Comparison::Exact,
            trunc: Truncation::Local,
            calibrated: false,
            batch: 1,
            preprocess: false,
            sign: SignProtocol::PrivateCompare,
        }
    }
}

/// Why a secure forward pass failed, with the node it failed at.
#[derive(Debug, Clone, PartialEq)]
pub enum InferError<E> {
    /// A protocol step failed (a peer left, a bad frame, ...).
    Protocol {
        /// The node's name.
        node: String,
        /// The underlying error.
        error: Error<E>,
    },
    /// The spec does not fit the model.
    Spec(SpecError),
    /// P1's weights do not fit the architecture.
    Weights(ModelError),
    /// A weight, bias or input value cannot be encoded (not finite or too large).
    Encode {
        /// The node's name.
        node: String,
        /// What it is about.
        what: &'static str,
        /// The value.
        value: f32,
    },
    /// The input has the wrong number of values.
    InputLength {
        /// What was expected.
        expected: usize,
        /// What was found.
        found: usize,
    },
    /// A batch of no images, or of more than [`MAX_BATCH`] ([`Settings::batch`]).
    Batch(usize),
    /// Preprocessing this many inferences would keep more material than a party may.
    Preprocessing {
        /// The session's inferences.
        inferences: u64,
        /// Bytes kept per inference (cost model).
        per_inference: u64,
        /// The most a party keeps.
        limit: u64,
    },
    /// A node the secure runner cannot evaluate.
    Unsupported {
        /// The node's name.
        node: String,
        /// The operator.
        op: &'static str,
        /// What went wrong.
        reason: &'static str,
    },
}

impl<E> InferError<E> {
    /// The peer that caused the error, when one did (see [`Error::peer`]).
    pub fn peer(&self) -> Option<Role> {
        match self {
            InferError::Protocol { error, .. } => error.peer(),
            _ => None,
        }
    }
}

impl<E: core::fmt::Debug> core::fmt::Display for InferError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            InferError::Protocol { node, error } => write!(f, "node '{node}': {error}"),
            InferError::Spec(e) => write!(f, "{e}"),
            InferError::Weights(e) => write!(f, "P1's weights: {e}"),
            InferError::Encode { node, what, value } => {
                write!(
                    f,
                    "node '{node}': {what} value {value} cannot be encoded in fixed point"
                )
            }
            InferError::InputLength { expected, found } => {
                write!(f, "input has {found} values, the model expects {expected}")
            }
            InferError::Batch(n) => {
                write!(f, "a batch has 1 to {MAX_BATCH} images, not {n}")
            }
            InferError::Preprocessing {
                inferences,
                per_inference,
                limit,
            } if per_inference > limit => write!(
                f,
                "one preprocessed inference keeps {per_inference} bytes ({inferences} asked for), more than the {limit} a party may keep: use a smaller batch, or no --preprocess"
            ),
            InferError::Preprocessing {
                inferences,
                per_inference,
                limit,
            } => write!(
                f,
                "preprocessing {inferences} inferences keeps {per_inference} bytes each, {} in all, more than the {limit} a party may keep: preprocess at most {} inferences per session",
                inferences.saturating_mul(*per_inference),
                limit / per_inference.max(&1)
            ),
            InferError::Unsupported { node, op, reason } => {
                write!(f, "node '{node}' ({op}): {reason}")
            }
        }
    }
}

impl<E: core::fmt::Debug> core::error::Error for InferError<E> {}

/// Message and purpose numbers of the runner's own steps.
const REVEAL: u16 = 1;
const DONE: u16 = 1;
const INPUT_MASK: u16 = 1;

/// A model described for secure inference, the same for every party: the spec checked and
/// resolved once, and every node's product shape and Block-ReLU layer (patch plan) resolved.
/// Enough for the cost model and the program check; [`DescribedModel::setup`] turns it into a
/// [`SecureModel`], which alone can run inferences.
pub struct DescribedModel<'m> {
    model: &'m Model,
    settings: Settings,
    spec: ResolvedSpec,
    nodes: Vec<NodePlan>,
    /// The comparison of each comparing node (for a Block-ReLU: of its patch sums).
    comparisons: Vec<Option<Comparison>>,
}

/// A model set up for secure inference by one party in a session: described, and P1's weights
/// masked. Reusable for the session's inferences.
pub struct SecureModel<'m> {
    described: DescribedModel<'m>,
    operands: Vec<Option<PrivateOperand>>,
    /// P1's biases encoded at `f` bits, by node (empty for P0 and P2, and for other nodes).
    biases: Vec<Vec<u64>>,
}

/// What a node is, as description resolved it.
enum NodePlan {
    /// A Conv or Linear layer: the shape of its product with P1's weights.
    Product(Product),
    /// A ReLU, or a ReLU6 with patches other than 1x1 (the Block-ReLU, then the clamp at 6 as
    /// a second step): its Block-ReLU layer.
    BlockRelu(BlockReluLayer),
    /// Any other node, evaluated from the model alone.
    Other,
}

fn protocol_err<E>(node: &Node) -> impl FnOnce(Error<E>) -> InferError<E> + '_ {
    move |error| InferError::Protocol {
        node: node.name.clone(),
        error,
    }
}

fn chw<E>(
    model: &Model,
    node: &Node,
    value: usize,
) -> Result<(usize, usize, usize), InferError<E>> {
    model
        .shape(value)
        .chw()
        .ok_or_else(|| InferError::Unsupported {
            node: node.name.clone(),
            op: node.op.kind(),
            reason: "expects an NCHW map",
        })
}

/// The product shape of a Conv or Linear node for a batch (the right operand is the weight
/// as P1 holds it): each image's convolution, or one matrix product with a row per image.
enum Product {
    Conv(Batched<Conv2d>),
    Linear(MatMul),
}

impl Product {
    fn of<E>(model: &Model, node: &Node, batch: usize) -> Result<Option<Product>, InferError<E>> {
        Ok(match &node.op {
            Op::Conv(c) => {
                let (in_c, in_h, in_w) = chw(model, node, node.inputs[0])?;
                let op = Conv2d {
                    in_c,
                    in_h,
                    in_w,
                    out_c: c.out_channels,
                    kh: c.kernel[0],
                    kw: c.kernel[1],
                    stride: c.stride,
                    pad: c.padding,
                    dilation: c.dilation,
                    groups: c.groups,
                };
                Some(Product::Conv(Batched { op, n: batch }))
            }
            Op::Linear(l) => Some(Product::Linear(MatMul {
                m: batch,
                k: l.in_features,
                n: l.out_features,
            })),
            _ => None,
        })
    }

    fn rhs_len(&self) -> usize {
        match self {
            Product::Conv(c) => c.rhs_len(),
            Product::Linear(m) => m.rhs_len(),
        }
    }

    fn cost(&self) -> Cost {
        match self {
            Product::Conv(c) => cost::private_operand_product(c),
            Product::Linear(m) => cost::private_operand_product(m),
        }
    }
}

impl NodePlan {
    /// Resolves node `index` of `model` under the resolved `spec` for `batch` images. A
    /// batch's Block-ReLU layer is the images' maps as one map of `batch x C` channels, the
    /// spec's patch sizes repeated for each image.
    fn of<E>(
        model: &Model,
        spec: &ResolvedSpec,
        index: usize,
        node: &Node,
        batch: usize,
    ) -> Result<NodePlan, InferError<E>> {
        if let Some(prod) = Product::of(model, node, batch)? {
            return Ok(NodePlan::Product(prod));
        }
        Ok(match spec.layer(index) {
            // A plain ReLU6 is one step, ReLU(x) - ReLU(x - 6), not a Block-ReLU and a clamp.
            Some((sizes, _)) if plain_relu6(&node.op, sizes) => NodePlan::Other,
            Some((sizes, (channels, height, width))) => {
                let shape = MapShape {
                    channels: *channels * batch,
                    height: *height,
                    width: *width,
                };
                let sizes: Vec<_> = (0..batch).flat_map(|_| sizes.iter().copied()).collect();
                let layer = BlockReluLayer::new(shape, &sizes).map_err(protocol_err(node))?;
                NodePlan::BlockRelu(layer)
            }
            None => NodePlan::Other,
        })
    }
}

/// P1's weight of a Conv or Linear node in the layout of the product's right operand, and its
/// bias, both encoded at `f` bits.
fn encoded_layer<E>(
    fp: FixedPoint,
    node: &Node,
    layer: &LayerWeights,
) -> Result<(Vec<u64>, Vec<u64>), InferError<E>> {
    let enc = |what: &'static str| {
        move |v: f32| {
            fp.encode(v).map_err(|_| InferError::Encode {
                node: node.name.clone(),
                what,
                value: v,
            })
        }
    };
    let weight = match &node.op {
        // y = W x with W [out, in]: the right operand of x (1 x in) is W^T (in x out).
        Op::Linear(l) => {
            let mut t = vec![0u64; l.in_features * l.out_features];
            for o in 0..l.out_features {
                for i in 0..l.in_features {
                    t[i * l.out_features + o] = enc("weight")(layer.weight[o * l.in_features + i])?;
                }
            }
            t
        }
        _ => layer
            .weight
            .iter()
            .map(|&v| enc("weight")(v))
            .collect::<Result<_, _>>()?,
    };
    let bias = layer
        .bias
        .iter()
        .map(|&v| enc("bias")(v))
        .collect::<Result<_, _>>()?;
    Ok((weight, bias))
}

impl<'m> SecureModel<'m> {
    /// Describes `model` with `spec` ([`DescribedModel::new`]) and sets it up
    /// ([`DescribedModel::setup`]).
    pub fn setup<T: Transport>(
        p: &mut Party<T>,
        model: &'m Model,
        weights: Held<'_, Weights>,
        spec: &Spec,
        settings: Settings,
        inferences: u64,
    ) -> Result<SecureModel<'m>, InferError<T::Error>> {
        DescribedModel::new(model, spec, settings)?.setup(p, weights, inferences)
    }

    /// The description it was set up from (costs, program).
    pub fn described(&self) -> &DescribedModel<'m> {
        &self.described
    }
}

impl<'m> DescribedModel<'m> {
    /// Checks and resolves `spec` against `model` once, and resolves every node's product
    /// shape and Block-ReLU layer. (`E`, the transport error of [`InferError`], is any type:
    /// a description involves no transport; `Infallible` where nothing else fixes it.)
    pub fn new<E>(
        model: &'m Model,
        spec: &Spec,
        settings: Settings,
    ) -> Result<DescribedModel<'m>, InferError<E>> {
        if !(1..=MAX_BATCH).contains(&settings.batch) {
            return Err(InferError::Batch(settings.batch));
        }
        let spec = ResolvedSpec::new(model, spec).map_err(InferError::Spec)?;
        let nodes = model
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| NodePlan::of(model, &spec, i, node, settings.batch))
            .collect::<Result<Vec<_>, _>>()?;
        let comparisons = model
            .nodes
            .iter()
            .zip(&nodes)
            .map(|(node, plan)| {
                let area = match (plan, &node.op) {
                    (NodePlan::BlockRelu(layer), _) => layer.plan().max_area(),
                    (_, op) if op.compares() => 1,
                    _ => return Ok(None),
                };
                let (cmp, cal) = (settings.cmp, spec.calibration());
                windows::node_comparison(
                    &node.name,
                    cmp,
                    area,
                    cal,
                    settings.fp,
                    settings.calibrated,
                )
                .map(Some)
            })
            .collect::<Result<_, _>>()
            .map_err(InferError::Spec)?;
        Ok(DescribedModel {
            model,
            settings,
            spec,
            nodes,
            comparisons,
        })
    }

    /// The comparison node `index` runs (for a Block-ReLU: of its patch sums), if it compares.
    pub fn comparison(&self, index: usize) -> Option<Comparison> {
        self.comparisons.get(index).copied().flatten()
    }

    /// The settings it was described with (the batch among them).
    pub fn settings(&self) -> Settings {
        self.settings
    }

    fn comparison_of(&self, index: usize) -> Comparison {
        self.comparison(index).unwrap_or(self.settings.cmp)
    }

    /// Sets the model up in a session: masks every weight operand (one message from P1 to P0
    /// per Conv/Linear layer, once per session). P1 passes its weights (`Held::Mine`, checked
    /// to fit the architecture before anything is sent), P0 and P2 `Held::NotMine`.
    ///
    /// First of all the parties check that they run the same program ([`program::agree`]: the
    /// architecture, the resolved spec, the settings, the protocol version and the number of
    /// `inferences` the session will run).
    pub fn setup<T: Transport>(
        self,
        p: &mut Party<T>,
        weights: Held<'_, Weights>,
        inferences: u64,
    ) -> Result<SecureModel<'m>, InferError<T::Error>> {
        let weights = weights
            .check(p.role(), Role::P1, "the weights")
            .map_err(at_setup)?;
        if let Some(w) = weights {
            w.check(self.model).map_err(InferError::Weights)?;
        }
        let largest = self.largest_messages();
        let largest_from = Role::ALL.map(|from| largest[from.index()][p.role().index()]);
        p.transport_mut().limit_messages(largest_from);
        program::agree(p, &self.program(inferences)).map_err(at_setup)?;
        let mut operands: Vec<Option<PrivateOperand>> = self.nodes.iter().map(|_| None).collect();
        let mut biases = vec![Vec::new(); self.nodes.len()];
        for (i, (node, plan)) in self.model.nodes.iter().zip(&self.nodes).enumerate() {
            if let NodePlan::Product(prod) = plan {
                let w = match weights.map(|w| w.layer(i)) {
                    Some(Some(layer)) => {
                        let (w, b) = encoded_layer(self.settings.fp, node, layer)?;
                        biases[i] = b;
                        Some(w)
                    }
                    Some(None) => {
                        let node = node.name.clone();
                        return Err(InferError::Weights(ModelError::MissingWeights { node }));
                    }
                    None => None,
                };
                let w = Held::from_option(w.as_deref());
                let op = PrivateOperand::setup(p, i as u32, prod.rhs_len(), w)
                    .map_err(protocol_err(node))?;
                operands[i] = Some(op);
                // P2, idle while P0 receives the masks, hears of each one.
                acknowledge(p, Role::P0, &[Role::P2]).map_err(protocol_err(node))?;
            }
        }
        // P1's wait for this starts once its masks are on the wire (the host transport's send
        // queue is bounded), so the first inference's timeouts never include their transfer.
        acknowledge(p, Role::P0, &[Role::P1]).map_err(at_setup)?;
        Ok(SecureModel {
            described: self,
            operands,
            biases,
        })
    }

    fn products(&self) -> impl Iterator<Item = &Product> {
        self.nodes.iter().filter_map(|n| match n {
            NodePlan::Product(prod) => Some(prod),
            _ => None,
        })
    }

    /// The public facts of a session of this model running `inferences` inferences, which the
    /// parties check at set-up ([`program::agree`]).
    pub fn program(&self, inferences: u64) -> Program {
        Program::new(
            self.model,
            &self.spec,
            self.settings,
            &self.comparisons,
            inferences,
        )
    }

    /// An upper bound on the payload of any one message from each party (first index) to each
    /// other in a session of this program: each step's bytes on an edge bound each of its
    /// messages, and a program description is at most [`program::MAX_PROGRAM_BYTES`].
    pub fn largest_messages(&self) -> [[u64; 3]; 3] {
        let mut largest = [[program::MAX_PROGRAM_BYTES as u64; 3]; 3];
        let setup = self
            .products()
            .map(|prod| cost::private_operand_setup(prod.rhs_len()));
        let nodes = (0..self.model.nodes.len()).map(|i| self.node_cost(i));
        for c in setup.chain(nodes).chain([self.reveal_cost()]) {
            for (row, bytes) in largest.iter_mut().zip(c.bytes) {
                for (l, b) in row.iter_mut().zip(bytes) {
                    *l = (*l).max(b);
                }
            }
        }
        largest
    }

    /// What setting up costs (once per session): the program check, the weight masks with
    /// P0's acknowledgements.
    pub fn setup_cost(&self) -> Cost {
        let masks = self.products().fold(cost::program_check(), |c, prod| {
            c.then(cost::private_operand_setup(prod.rhs_len()))
                .then(cost::acknowledgement())
        });
        masks.then(cost::acknowledgement())
    }

    /// The cost model's prediction for node `index` (for the whole batch).
    pub fn node_cost(&self, index: usize) -> Cost {
        let node = &self.model.nodes[index];
        let batch = self.settings.batch;
        let per_image = self.model.shape(node.inputs[0]).numel();
        let n = per_image * batch;
        let map = |shape: &crate::model::Shape| {
            let (c, h, w) = shape.channels_and_map().unwrap_or((per_image, 1, 1));
            MapShape {
                channels: c * batch,
                height: h,
                width: w,
            }
        };
        let out = self.model.shape(node.output).numel() * batch;
        let truncation = cost::truncate(out, self.settings.trunc);
        match (&self.nodes[index], &node.op) {
            (NodePlan::Product(prod), _) => prod.cost().then(truncation),
            (NodePlan::BlockRelu(layer), op) => {
                let (cmp, sign) = (self.comparison_of(index), self.settings.sign);
                let block = cost::block_relu_plan(layer.plan(), cmp, sign);
                match op.cap() {
                    Some(_) => block.then(cost::relu(n, cmp, sign)),
                    None => block,
                }
            }
            (_, Op::AvgPool(_) | Op::GlobalAvgPool) => truncation,
            (_, Op::Resize(r)) if !r.is_nearest() => truncation,
            (_, Op::Relu6) => cost::relu(2 * n, self.comparison_of(index), self.settings.sign),
            (_, Op::MaxPool(pool)) => cost::max_pool(
                map(self.model.shape(node.inputs[0])),
                to_pool(pool),
                self.comparison_of(index),
                self.settings.sign,
            ),
            _ => Cost::default(),
        }
    }

    /// What the offline walk of one inference sends ([`SecureModel::preprocess`]): no dealt
    /// message waits on another, so they are one round, and P1's acknowledgement a second.
    pub fn offline_cost(&self) -> Cost {
        let mut c = (0..self.model.nodes.len()).fold(Cost::default(), |c, i| {
            c.then(self.node_cost(i).offline_part())
        });
        c.rounds = c.rounds.min(1);
        c.then(cost::acknowledgement())
    }

    /// What revealing the output (of every image of the batch) to P0 costs.
    pub fn reveal_cost(&self) -> Cost {
        let n = self.model.shape(self.model.output).numel() * self.settings.batch;
        let mut c = Cost::default();
        c.bytes[Role::P1.index()][Role::P0.index()] = 8 * n as u64;
        c.rounds = 1;
        c
    }
}

impl SecureModel<'_> {
    /// One secure forward pass of a batch. P0 holds the input (`batch` images of `C*H*W`
    /// floats one after another, NCHW: `Held::Mine`) and gets the outputs, one after another;
    /// P1 and P2 pass `Held::NotMine` and get `None`. `after_node(index)` is
    /// called after each node (for per-layer timing and traffic).
    pub fn infer<T: Transport>(
        &self,
        p: &mut Party<T>,
        input: Held<'_, [f32]>,
        after_node: &mut dyn FnMut(usize, &Party<T>),
    ) -> Result<Option<Vec<f32>>, InferError<T::Error>> {
        self.walk(p, input, after_node)
    }

    /// The offline walk of one inference ([`crate::preprocess`]), before its input exists:
    /// every step runs its input-independent part only, and what it kept comes back, to be
    /// given to [`SecureModel::infer_prepared`] (inferences in the order they were prepared).
    /// Only P2's dealt material travels (shares to P1, with FSS signs keys to P0 and P1 too),
    /// in one round, then P1's acknowledgement to P0 and P2 (empty messages). `after_node` as for `infer`.
    pub fn preprocess<T: Transport>(
        &self,
        p: &mut Party<T>,
        after_node: &mut dyn FnMut(usize, &Party<T>),
    ) -> Result<Prepared, InferError<T::Error>> {
        self.expect_preprocessed(true)?;
        p.begin_offline().map_err(phase_err)?;
        self.walk(p, Held::NotMine, after_node)?;
        let prepared = p.end_offline().map_err(phase_err)?;
        // P1 has all of it: P0 and P2 wait for that, so no party runs ahead by more than one
        // inference's offline walk (a party ahead would wait past its timeout online).
        acknowledge(p, Role::P1, &[Role::P0, Role::P2]).map_err(phase_err)?;
        Ok(prepared)
    }

    /// The online walk of an inference that [`SecureModel::preprocess`] prepared: as
    /// [`SecureModel::infer`], with only what depends on the input moving.
    pub fn infer_prepared<T: Transport>(
        &self,
        p: &mut Party<T>,
        prepared: Prepared,
        input: Held<'_, [f32]>,
        after_node: &mut dyn FnMut(usize, &Party<T>),
    ) -> Result<Option<Vec<f32>>, InferError<T::Error>> {
        self.expect_preprocessed(true)?;
        p.begin_online(prepared).map_err(phase_err)?;
        let out = self.walk(p, input, after_node)?;
        p.end_online().map_err(phase_err)?;
        Ok(out)
    }

    /// The program says whether inferences are preprocessed; the calls must agree with it.
    fn expect_preprocessed<E>(&self, prepared: bool) -> Result<(), InferError<E>> {
        if self.described.settings.preprocess == prepared {
            Ok(())
        } else {
            Err(InferError::Protocol {
                node: String::from("<session>"),
                error: Error::Config(if prepared {
                    "preprocessing in a session whose program does not preprocess"
                } else {
                    "a joint inference in a session whose program preprocesses"
                }),
            })
        }
    }

    /// One pass over the graph in the party's phase: the offline walk passes zeros and reveals
    /// nothing.
    fn walk<T: Transport>(
        &self,
        p: &mut Party<T>,
        input: Held<'_, [f32]>,
        after_node: &mut dyn FnMut(usize, &Party<T>),
    ) -> Result<Option<Vec<f32>>, InferError<T::Error>> {
        let d = &self.described;
        let model = d.model;
        let (fp, role) = (d.settings.fp, p.role());
        p.set_sign_protocol(d.settings.sign);
        let online = p.runs_online();
        if p.phase() == Phase::Joint {
            self.expect_preprocessed(false)?;
        }
        let input = if online {
            input
                .check(role, Role::P0, "the input")
                .map_err(|error| InferError::Protocol {
                    node: String::from("<input>"),
                    error,
                })?
        } else {
            None
        };
        let batch = d.settings.batch;
        let n_in = model.shape(model.input).numel() * batch;
        // Input: P0 and P1 share the mask m; P0 holds x - m, P1 holds m. Nothing travels.
        let step = p.begin_step();
        let mut values: Vec<Option<Vec<u64>>> = vec![None; model.values.len()];
        values[model.input] = Some(match role {
            _ if !online => vec![0; n_in],
            Role::P0 => {
                let x = input.ok_or(InferError::InputLength {
                    expected: n_in,
                    found: 0,
                })?;
                if x.len() != n_in {
                    return Err(InferError::InputLength {
                        expected: n_in,
                        found: x.len(),
                    });
                }
                let mut m = p.shared(Role::P1, step, INPUT_MASK);
                x.iter()
                    .map(|&v| {
                        let e = fp.encode(v).map_err(|_| InferError::Encode {
                            node: String::from("<input>"),
                            what: "input",
                            value: v,
                        })?;
                        Ok(e.wrapping_sub(m.u64()))
                    })
                    .collect::<Result<Vec<u64>, _>>()?
            }
            Role::P1 => {
                let mut m = p.shared(Role::P0, step, INPUT_MASK);
                (0..n_in).map(|_| m.u64()).collect()
            }
            Role::P2 => vec![0; n_in],
        });
        let last_use = last_uses(model);
        for (i, node) in model.nodes.iter().enumerate() {
            let out = self.eval(p, i, node, &values)?;
            values[node.output] = Some(out);
            for &v in &node.inputs {
                if last_use[v] == i && v != model.output {
                    values[v] = None;
                }
            }
            after_node(i, p);
        }
        let out = values[model.output].take().ok_or(InferError::Unsupported {
            node: String::from("<output>"),
            op: "output",
            reason: "the output value was not computed",
        })?;
        // Reveal to P0 only: P1 sends its share.
        let step = p.begin_step();
        if !online {
            return Ok(None);
        }
        let fail = |error| InferError::Protocol {
            node: String::from("<output>"),
            error,
        };
        match role {
            Role::P1 => {
                p.send_packed(Role::P0, step, REVEAL, out.iter().copied(), out.len(), 64)
                    .map_err(fail)?;
                Ok(None)
            }
            Role::P0 => {
                let theirs = p
                    .recv_packed(Role::P1, step, REVEAL, out.len(), 64)
                    .map_err(fail)?;
                let mut y: Vec<f32> = out
                    .iter()
                    .zip(&theirs)
                    .map(|(a, b)| fp.decode(a.wrapping_add(*b)) as f32)
                    .collect();
                let last = model.nodes.iter().find(|n| n.output == model.output);
                let log = match last.map(|n| &n.op) {
                    Some(Op::Softmax) => Some(false),
                    Some(Op::LogSoftmax) => Some(true),
                    _ => None,
                };
                if let Some(log) = log {
                    let per_image = y.len() / batch;
                    y.chunks_mut(per_image.max(1))
                        .for_each(|scores| softmax(scores, log));
                }
                Ok(Some(y))
            }
            Role::P2 => Ok(None),
        }
    }

    fn eval<T: Transport>(
        &self,
        p: &mut Party<T>,
        index: usize,
        node: &Node,
        values: &[Option<Vec<u64>>],
    ) -> Result<Vec<u64>, InferError<T::Error>> {
        let d = &self.described;
        let model = d.model;
        let (fp, cmp, role) = (d.settings.fp, d.comparison_of(index), p.role());
        let batch = d.settings.batch;
        // The per-image `C x H x W` of a value, and the batch's maps as `batch x C` channels.
        let map_of = |v: usize| chw(model, node, v);
        let batch_map = |v: usize| map_of(v).map(|(c, h, w)| (c * batch, h, w));
        // A checked model is topological, so every input was computed; never read as empty.
        let value = |v: usize| {
            values[v].as_deref().ok_or(InferError::Unsupported {
                node: node.name.clone(),
                op: node.op.kind(),
                reason: "an input value was not computed (graph not topological)",
            })
        };
        let x = value(node.inputs[0])?;
        let err = protocol_err(node);
        let trunc = d.settings.trunc;
        Ok(match (&d.nodes[index], &node.op) {
            (NodePlan::Product(prod), _) => {
                let operand = self.operands[index]
                    .as_ref()
                    .ok_or(InferError::Unsupported {
                        node: node.name.clone(),
                        op: node.op.kind(),
                        reason: "weights were not set up",
                    })?;
                let z = match prod {
                    Product::Conv(c) => operand.product(p, c, x),
                    Product::Linear(m) => operand.product(p, m, x),
                }
                .map_err(err)?;
                let mut y = truncate(p, fp, trunc, &z).map_err(protocol_err(node))?;
                add_bias(&self.biases[index], batch, &mut y);
                y
            }
            (NodePlan::BlockRelu(layer), op) => {
                let y = layer.apply(p, x, cmp).map_err(err)?;
                match op.cap() {
                    // min(BlockReLU(x), 6) = y - ReLU(y - 6), a second step.
                    Some(cap) => {
                        let six = cap_share(fp, role, node, cap)?;
                        let over: Vec<u64> = y.iter().map(|v| v.wrapping_sub(six)).collect();
                        let r = relu(p, &over, cmp).map_err(protocol_err(node))?;
                        y.iter().zip(&r).map(|(y, r)| y.wrapping_sub(*r)).collect()
                    }
                    None => y,
                }
            }
            (_, Op::Relu6) => {
                // min(max(x, 0), 6) = ReLU(x) - ReLU(x - 6), both in one step.
                let six = cap_share(fp, role, node, RELU6_CAP)?;
                let mut both = x.to_vec();
                both.extend(x.iter().map(|v| v.wrapping_sub(six)));
                let r = relu(p, &both, cmp).map_err(err)?;
                let (a, b) = r.split_at(x.len());
                a.iter().zip(b).map(|(a, b)| a.wrapping_sub(*b)).collect()
            }
            (_, Op::Add) => x
                .iter()
                .zip(value(node.inputs[1])?)
                .map(|(a, b)| a.wrapping_add(*b))
                .collect(),
            // Along channels, image by image.
            (_, Op::Concat) => {
                let parts = node
                    .inputs
                    .iter()
                    .map(|&v| value(v))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut out = Vec::with_capacity(parts.iter().map(|x| x.len()).sum());
                for image in 0..batch {
                    for x in &parts {
                        let per = x.len() / batch;
                        out.extend_from_slice(&x[image * per..(image + 1) * per]);
                    }
                }
                out
            }
            // A final Softmax is P0's, on the revealed scores ([`SecureModel::infer`]).
            (_, Op::Reshape | Op::Identity | Op::Softmax | Op::LogSoftmax) => x.to_vec(),
            // Description resolves every Conv and Linear to a product and every ReLU to a
            // Block-ReLU layer.
            (NodePlan::Other, Op::Conv(_) | Op::Linear(_) | Op::Relu) => {
                return Err(InferError::Unsupported {
                    node: node.name.clone(),
                    op: node.op.kind(),
                    reason: "not resolved by the description",
                })
            }
            (_, Op::AvgPool(pool)) => {
                let (_, oh, ow) = map_of(node.output)?;
                let sums = local::avg_pool(fp, pool, x, batch_map(node.inputs[0])?, oh, ow);
                truncate(p, fp, trunc, &sums).map_err(err)?
            }
            (_, Op::GlobalAvgPool) => {
                let (c, h, w) = batch_map(node.inputs[0])?;
                let sums = local::global_avg_pool(fp, x, c, h * w);
                truncate(p, fp, trunc, &sums).map_err(err)?
            }
            (_, Op::MaxPool(pool)) => {
                let (c, h, w) = batch_map(node.inputs[0])?;
                let pool = to_pool(pool);
                let (_, oh, ow) = map_of(node.output)?;
                if pool.out_hw(h, w) != (oh, ow) {
                    return Err(InferError::Unsupported {
                        node: node.name.clone(),
                        op: "MaxPool",
                        reason: "ceil_mode output size",
                    });
                }
                max_pool(
                    p,
                    x,
                    MapShape {
                        channels: c,
                        height: h,
                        width: w,
                    },
                    pool,
                    cmp,
                )
                .map_err(err)?
            }
            (_, Op::Resize(r)) => {
                let (_, oh, ow) = map_of(node.output)?;
                let out = local::resize(fp, r, x, batch_map(node.inputs[0])?, oh, ow);
                if r.is_nearest() {
                    out
                } else {
                    truncate(p, fp, trunc, &out).map_err(err)?
                }
            }
        })
    }
}

/// A party's share of the public bound `cap` (P0 holds it, the others 0), encoded at `fp`.
fn cap_share<E>(fp: FixedPoint, role: Role, node: &Node, cap: f32) -> Result<u64, InferError<E>> {
    if role != Role::P0 {
        return Ok(0);
    }
    fp.encode(cap).map_err(|_| InferError::Encode {
        node: node.name.clone(),
        what: "ReLU6 bound",
        value: cap,
    })
}

fn phase_err<E>(error: Error<E>) -> InferError<E> {
    InferError::Protocol {
        node: String::from("<session>"),
        error,
    }
}

fn to_pool(p: &crate::model::Pool2d) -> Pool {
    Pool {
        kernel: p.kernel,
        stride: p.stride,
        pad: p.padding,
    }
}

/// A protocol error of set-up outside any node (the program check, the last acknowledgement).
fn at_setup<E>(error: Error<E>) -> InferError<E> {
    InferError::Protocol {
        node: String::from("<set-up>"),
        error,
    }
}

/// A step of set-up in which P0 tells `to` (empty messages) that it has received what came
/// before; they wait for it. Waiting parties thus hear from P0 after every weight mask, and no
/// wait of set-up covers more than one mask's transfer.
fn acknowledge<T: Transport>(
    p: &mut Party<T>,
    from: Role,
    to: &[Role],
) -> Result<(), Error<T::Error>> {
    let step = p.begin_step();
    match p.role() {
        me if me == from => to
            .iter()
            .try_for_each(|&peer| p.send(peer, step, DONE, &[])),
        me if to.contains(&me) => p.recv(from, step, DONE, 0).map(|_| ()),
        _ => Ok(()),
    }
}

/// P1 adds the bias (encoded at `f` bits, one value per output channel) of a Conv or Linear
/// node to its share of each of the `batch` images; P0 and P2 have no biases and add nothing.
fn add_bias(bias: &[u64], batch: usize, y: &mut [u64]) {
    if bias.is_empty() {
        return;
    }
    let per = y.len() / batch / bias.len();
    for image in y.chunks_mut((per * bias.len()).max(1)) {
        for (chunk, &b) in image.chunks_mut(per.max(1)).zip(bias) {
            chunk.iter_mut().for_each(|v| *v = v.wrapping_add(b));
        }
    }
}

/// The class an output names: the index of its largest value (the first of equal ones; NaNs
/// are passed over; 0 for an empty output).
pub fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold(
            (0, f32::NEG_INFINITY),
            |b, (i, &x)| if x > b.1 { (i, x) } else { b },
        )
        .0
}

/// The class of each of the `batch` images whose outputs lie one after another in `outputs`.
pub fn classes(outputs: &[f32], batch: usize) -> Vec<usize> {
    let per_image = outputs.len() / batch.max(1);
    outputs.chunks(per_image.max(1)).map(argmax).collect()
}

/// For each value, the index of the last node that reads it (`usize::MAX` if none).
fn last_uses(model: &Model) -> Vec<usize> {
    let mut last = vec![usize::MAX; model.values.len()];
    for (i, node) in model.nodes.iter().enumerate() {
        for &v in &node.inputs {
            last[v] = i;
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::InferError;

    /// The refusal says how many inferences fit, or that not even one does.
    #[test]
    fn a_refused_preprocessing_says_what_would_fit() {
        let refusal = |inferences, per_inference| {
            InferError::<()>::Preprocessing {
                inferences,
                per_inference,
                limit: 4_000,
            }
            .to_string()
        };
        let many = refusal(6, 1_000);
        assert!(
            many.contains("keeps 1000 bytes each, 6000 in all, more than the 4000")
                && many.contains("preprocess at most 4 inferences per session"),
            "{many}"
        );
        let one = refusal(3, 5_000);
        assert!(
            one.starts_with("one preprocessed inference keeps 5000 bytes (3 asked for)")
                && one.contains("use a smaller batch"),
            "{one}"
        );
    }
}
