//! rustls configurations of a party: TLS 1.3 only, ring provider, this party's certificate,
//! and the pinning verifiers of [`super::pin`].

use std::sync::Arc;

use patchwork_core::role::Role;
use rustls::{ClientConfig, ServerConfig};

use super::error::SessionError;
use super::identity::{Fingerprint, Identity};
use super::pin::{PinnedClients, PinnedServer, Pins};

fn setup_err(what: &'static str) -> impl Fn(rustls::Error) -> SessionError {
    move |e| SessionError::Setup {
        what,
        reason: e.to_string(),
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client configuration for dialling `server`: accepts only the certificate `pin`.
pub(crate) fn client_config(
    server: Role,
    pin: Fingerprint,
    identity: &Identity,
) -> Result<Arc<ClientConfig>, SessionError> {
    let pins = Pins::new(vec![(server, pin)]);
    let tls = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(setup_err("the TLS client"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedServer(pins)))
        .with_client_auth_cert(vec![identity.certificate().clone()], identity.private_key())
        .map_err(setup_err("the TLS client certificate"))?;
    Ok(Arc::new(tls))
}

/// The server configuration of a listening party: requires a client certificate among
/// `pins` (a role may have several, e.g. the clients of a service).
pub(crate) fn server_config(
    pins: Arc<Pins>,
    identity: &Identity,
) -> Result<Arc<ServerConfig>, SessionError> {
    let tls = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(setup_err("the TLS server"))?
        .with_client_cert_verifier(Arc::new(PinnedClients(pins)))
        .with_single_cert(vec![identity.certificate().clone()], identity.private_key())
        .map_err(setup_err("the TLS server certificate"))?;
    Ok(Arc::new(tls))
}
