//! Helpers shared by Patchwork's tests (a dev-dependency only): seeded additive shares and
//! steps on the in-memory network ([`shares`]), each party's joint view with the chi-square
//! comparisons of the privacy tests ([`view`]), and with feature `net` loopback TLS sessions
//! ([`net`]), a tampering relay ([`relay`]) and a slow link ([`slow_link`]); test models
//! exported with PyTorch ([`python`]).

pub mod python;
pub mod shares;
pub mod view;

#[cfg(feature = "net")]
pub mod net;
#[cfg(feature = "net")]
pub mod relay;
#[cfg(feature = "net")]
pub mod slow_link;
