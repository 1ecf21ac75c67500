//! Value shapes and the shape rule of each operator.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use super::op::{Op, Pool2d};

/// The dimensions of a value, batch first: `[1, C, H, W]` for maps, `[1, F]` for vectors.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Shape(pub Vec<usize>);

impl Shape {
    /// An NCHW shape with batch 1.
    pub fn nchw(c: usize, h: usize, w: usize) -> Shape {
        Shape(vec![1, c, h, w])
    }

    /// Number of elements (saturating at `usize::MAX`, so hostile shapes cannot overflow).
    pub fn numel(&self) -> usize {
        self.0.iter().fold(1usize, |a, &d| a.saturating_mul(d))
    }

    /// `(C, H, W)` of a rank-4 shape.
    pub fn chw(&self) -> Option<(usize, usize, usize)> {
        match self.0.as_slice() {
            [_, c, h, w] => Some((*c, *h, *w)),
            _ => None,
        }
    }

    /// Channels and map size as Block-ReLU sees them: `(C, H, W)` for rank 4, and `(F, 1, 1)`
    /// for a rank-2 `[1, F]` value (every feature is its own 1x1 channel).
    pub fn channels_and_map(&self) -> Option<(usize, usize, usize)> {
        match self.0.as_slice() {
            [_, c, h, w] => Some((*c, *h, *w)),
            [_, f] => Some((*f, 1, 1)),
            _ => None,
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}

/// Why a node's shapes do not fit its operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShapeError {
    /// Wrong number of inputs.
    InputCount {
        /// What was expected.
        expected: usize,
        /// What was found.
        found: usize,
    },
    /// An input has the wrong rank.
    Rank {
        /// Which input.
        input: usize,
        /// What was expected.
        expected: usize,
        /// What was found.
        found: usize,
    },
    /// A dimension disagrees with the operator's parameters or another input.
    Dim {
        /// What it is about.
        what: &'static str,
        /// What was expected.
        expected: usize,
        /// What was found.
        found: usize,
    },
    /// The window (with padding and dilation) is larger than the padded input.
    WindowTooLarge {
        /// The window size.
        window: usize,
        /// The padded input size.
        padded_input: usize,
    },
    /// A stride, dilation, group count or kernel size is zero.
    ZeroParameter {
        /// What it is about.
        what: &'static str,
    },
    /// The declared output shape differs from the one the operator produces.
    Output {
        /// What was expected.
        expected: Shape,
        /// What was found.
        found: Shape,
    },
    /// Reshape/Flatten changes the number of elements.
    ElementCount {
        /// What was expected.
        expected: usize,
        /// What was found.
        found: usize,
    },
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShapeError::InputCount { expected, found } => {
                write!(f, "expected {expected} inputs, found {found}")
            }
            ShapeError::Rank {
                input,
                expected,
                found,
            } => {
                write!(
                    f,
                    "input {input}: expected rank {expected}, found rank {found}"
                )
            }
            ShapeError::Dim {
                what,
                expected,
                found,
            } => {
                write!(f, "{what}: expected {expected}, found {found}")
            }
            ShapeError::WindowTooLarge {
                window,
                padded_input,
            } => write!(
                f,
                "window of {window} is larger than the padded input of {padded_input}"
            ),
            ShapeError::ZeroParameter { what } => write!(f, "{what} must be at least 1"),
            ShapeError::Output { expected, found } => {
                write!(f, "output shape: expected {expected}, found {found}")
            }
            ShapeError::ElementCount { expected, found } => {
                write!(f, "reshape to {found} elements from {expected}")
            }
        }
    }
}

impl core::error::Error for ShapeError {}

fn count(inputs: &[&Shape], expected: usize) -> Result<(), ShapeError> {
    if inputs.len() != expected {
        return Err(ShapeError::InputCount {
            expected,
            found: inputs.len(),
        });
    }
    Ok(())
}

fn rank4(inputs: &[&Shape], i: usize) -> Result<(usize, usize, usize), ShapeError> {
    inputs[i].chw().ok_or(ShapeError::Rank {
        input: i,
        expected: 4,
        found: inputs[i].0.len(),
    })
}

/// Output length of a sliding window along one axis (floor mode).
fn window_out(
    len: usize,
    pad: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
) -> Result<usize, ShapeError> {
    if kernel == 0 || stride == 0 || dilation == 0 {
        return Err(ShapeError::ZeroParameter {
            what: "kernel, stride and dilation",
        });
    }
    let window = dilation * (kernel - 1) + 1;
    let padded = len + pad;
    if window > padded {
        return Err(ShapeError::WindowTooLarge {
            window,
            padded_input: padded,
        });
    }
    Ok((padded - window) / stride + 1)
}

fn pool_shape(p: &Pool2d, c: usize, h: usize, w: usize) -> Result<Shape, ShapeError> {
    let oh = window_out(h, p.padding[0] + p.padding[2], p.kernel[0], p.stride[0], 1)?;
    let ow = window_out(w, p.padding[1] + p.padding[3], p.kernel[1], p.stride[1], 1)?;
    Ok(Shape::nchw(c, oh, ow))
}

/// The output shape of `op` on `inputs`. Reshape and Resize take their output shape from the
/// file, so for them this returns the shape of the first input unchanged (use [`check_shape`]).
pub fn infer_shape(op: &Op, inputs: &[&Shape]) -> Result<Shape, ShapeError> {
    match op {
        Op::Conv(conv) => {
            count(inputs, 1)?;
            let (c, h, w) = rank4(inputs, 0)?;
            if conv.groups == 0 {
                return Err(ShapeError::ZeroParameter { what: "groups" });
            }
            if c != conv.in_channels {
                return Err(ShapeError::Dim {
                    what: "input channels",
                    expected: conv.in_channels,
                    found: c,
                });
            }
            if c % conv.groups != 0 || conv.out_channels % conv.groups != 0 {
                return Err(ShapeError::Dim {
                    what: "channels divisible by groups",
                    expected: conv.groups,
                    found: c,
                });
            }
            let oh = window_out(
                h,
                conv.padding[0] + conv.padding[2],
                conv.kernel[0],
                conv.stride[0],
                conv.dilation[0],
            )?;
            let ow = window_out(
                w,
                conv.padding[1] + conv.padding[3],
                conv.kernel[1],
                conv.stride[1],
                conv.dilation[1],
            )?;
            Ok(Shape::nchw(conv.out_channels, oh, ow))
        }
        Op::Linear(l) => {
            count(inputs, 1)?;
            match inputs[0].0.as_slice() {
                [1, f] if *f == l.in_features => Ok(Shape(vec![1, l.out_features])),
                [1, f] => Err(ShapeError::Dim {
                    what: "input features",
                    expected: l.in_features,
                    found: *f,
                }),
                other => Err(ShapeError::Rank {
                    input: 0,
                    expected: 2,
                    found: other.len(),
                }),
            }
        }
        Op::Relu | Op::Relu6 | Op::Identity | Op::Reshape | Op::Resize(_) => {
            count(inputs, 1)?;
            Ok(inputs[0].clone())
        }
        Op::Softmax | Op::LogSoftmax => {
            count(inputs, 1)?;
            match inputs[0].0.as_slice() {
                [1, _] => Ok(inputs[0].clone()),
                other => Err(ShapeError::Rank {
                    input: 0,
                    expected: 2,
                    found: other.len(),
                }),
            }
        }
        Op::Add => {
            count(inputs, 2)?;
            if inputs[0] != inputs[1] {
                return Err(ShapeError::Output {
                    expected: inputs[0].clone(),
                    found: inputs[1].clone(),
                });
            }
            Ok(inputs[0].clone())
        }
        Op::AvgPool(p) | Op::MaxPool(p) => {
            count(inputs, 1)?;
            let (c, h, w) = rank4(inputs, 0)?;
            pool_shape(p, c, h, w)
        }
        Op::GlobalAvgPool => {
            count(inputs, 1)?;
            let (c, _, _) = rank4(inputs, 0)?;
            Ok(Shape::nchw(c, 1, 1))
        }
        Op::Concat => {
            if inputs.is_empty() {
                return Err(ShapeError::InputCount {
                    expected: 1,
                    found: 0,
                });
            }
            let (_, h, w) = rank4(inputs, 0)?;
            let mut channels = 0;
            for i in 0..inputs.len() {
                let (c, hi, wi) = rank4(inputs, i)?;
                if hi != h {
                    return Err(ShapeError::Dim {
                        what: "concat input height",
                        expected: h,
                        found: hi,
                    });
                }
                if wi != w {
                    return Err(ShapeError::Dim {
                        what: "concat input width",
                        expected: w,
                        found: wi,
                    });
                }
                channels += c;
            }
            Ok(Shape::nchw(channels, h, w))
        }
    }
}

/// Checks a declared output shape against the operator: equal to [`infer_shape`] for most
/// operators; same element count for Reshape; same batch and channels (rank 4) for Resize.
pub fn check_shape(op: &Op, inputs: &[&Shape], declared: &Shape) -> Result<(), ShapeError> {
    let inferred = infer_shape(op, inputs)?;
    match op {
        Op::Reshape => {
            if inferred.numel() != declared.numel() {
                return Err(ShapeError::ElementCount {
                    expected: inferred.numel(),
                    found: declared.numel(),
                });
            }
        }
        Op::Resize(_) => {
            let (c, _, _) = rank4(inputs, 0)?;
            match declared.chw() {
                Some((dc, _, _)) if dc == c && declared.0[0] == inputs[0].0[0] => {}
                _ => {
                    return Err(ShapeError::Output {
                        expected: inferred,
                        found: declared.clone(),
                    })
                }
            }
        }
        _ => {
            if &inferred != declared {
                return Err(ShapeError::Output {
                    expected: inferred,
                    found: declared.clone(),
                });
            }
        }
    }
    Ok(())
}
