//! Certificate pinning for rustls: verifiers that accept exactly the pinned certificates
//! (by SHA-256 fingerprint) and still check the handshake signatures with the provider's
//! algorithms. A refused certificate is reported as [`Unpinned`] inside the rustls error, so
//! session set-up can turn it into a typed error naming the expected party.

use std::sync::Arc;

use patchwork_core::role::Role;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, SignatureScheme,
};

use super::identity::{fingerprint, hex, Fingerprint};

/// The certificate a peer presented was not pinned for any party it may be.
#[derive(Debug, thiserror::Error)]
#[error("certificate {fingerprint} is not pinned")]
pub(crate) struct Unpinned {
    /// Hex SHA-256 of the presented certificate.
    pub fingerprint: String,
}

/// Finds an [`Unpinned`] refusal inside an I/O error from a TLS handshake.
pub(crate) fn unpinned(error: &std::io::Error) -> Option<&Unpinned> {
    let tls = error.get_ref()?.downcast_ref::<rustls::Error>()?;
    match tls {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
            inner.downcast_ref::<Unpinned>()
        }
        _ => None,
    }
}

/// The parties a verifier accepts, by role and pinned fingerprint.
#[derive(Debug)]
pub(crate) struct Pins {
    accepted: Vec<(Role, Fingerprint)>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl Pins {
    /// Accepts exactly the given certificates.
    pub(crate) fn new(accepted: Vec<(Role, Fingerprint)>) -> Arc<Pins> {
        let algorithms = rustls::crypto::ring::default_provider().signature_verification_algorithms;
        Arc::new(Pins {
            accepted,
            algorithms,
        })
    }

    /// The role whose pinned certificate is `cert`, if any.
    pub(crate) fn role_of(&self, cert: &CertificateDer<'_>) -> Option<Role> {
        let fp = fingerprint(cert);
        self.accepted
            .iter()
            .find(|(_, p)| *p == fp)
            .map(|(r, _)| *r)
    }

    /// The roles that have a pinned certificate, each once, in order of first appearance.
    pub(crate) fn roles(&self) -> Vec<Role> {
        let mut roles: Vec<Role> = Vec::new();
        for (r, _) in &self.accepted {
            if !roles.contains(r) {
                roles.push(*r);
            }
        }
        roles
    }

    fn check(&self, cert: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        match self.role_of(cert) {
            Some(_) => Ok(()),
            None => Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(Unpinned {
                    fingerprint: hex(&fingerprint(cert)),
                })),
            ))),
        }
    }

    fn tls12(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn tls13(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The handshake-signature methods that both verifiers delegate to their [`Pins`] (rustls's
/// server and client verifier traits declare the same three).
macro_rules! handshake_signatures_by_pins {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.0.tls12(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.0.tls13(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.schemes()
        }
    };
}

/// Client side: the server must present the certificate pinned for the party dialled. The
/// server name is ignored; the pin is the identity.
#[derive(Debug)]
pub(crate) struct PinnedServer(pub Arc<Pins>);

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.0.check(end_entity)?;
        Ok(ServerCertVerified::assertion())
    }

    handshake_signatures_by_pins!();
}

/// Server side: a client certificate is mandatory and must be pinned for one of the parties
/// allowed to connect to this one.
#[derive(Debug)]
pub(crate) struct PinnedClients(pub Arc<Pins>);

impl ClientCertVerifier for PinnedClients {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.0.check(end_entity)?;
        Ok(ClientCertVerified::assertion())
    }

    handshake_signatures_by_pins!();
}
