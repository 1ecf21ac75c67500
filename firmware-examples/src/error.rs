//! Everything that can stop the P0 session, printed before the failure exit.

use patchwork_core::infer::InferError;
use patchwork_core::model::ModelError;

use crate::keys::HelloError;
use crate::uart::UartError;

/// Why the session failed.
#[derive(Debug)]
pub enum FwError {
    /// A peer's key message was missing or malformed.
    Hello(HelloError),
    /// The generated architecture is inconsistent (a generator bug).
    Model(ModelError),
    /// The generated spec holds an invalid patch size (a generator bug).
    BadPatch { layer: &'static str, pair: [u32; 2] },
    /// Set-up or inference failed (a peer left, timed out, sent a bad frame, ...).
    Infer(InferError<UartError>),
    /// The inference finished without giving P0 an output.
    NoOutput,
}

impl core::fmt::Display for FwError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FwError::Hello(e) => write!(f, "key agreement: {e}"),
            FwError::Model(e) => write!(f, "generated model: {e}"),
            FwError::BadPatch { layer, pair } => {
                write!(
                    f,
                    "generated spec: layer {layer}: invalid patch size {pair:?}"
                )
            }
            FwError::Infer(e) => write!(f, "secure inference: {e}"),
            FwError::NoOutput => write!(f, "secure inference gave P0 no output"),
        }
    }
}

impl From<HelloError> for FwError {
    fn from(e: HelloError) -> FwError {
        FwError::Hello(e)
    }
}

impl From<InferError<UartError>> for FwError {
    fn from(e: InferError<UartError>) -> FwError {
        FwError::Infer(e)
    }
}
