//! P0 against a running service: open a session (dial P1 and P2, announce the session, wait to
//! be admitted) and run inferences in it.

use patchwork_core::held::Held;
use patchwork_core::infer::{InferError, Settings};
use patchwork_core::model::Model;
use patchwork_core::party::Party;
use patchwork_core::role::Role;
use patchwork_core::spec::Spec;
use tokio::time::{timeout_at, Instant};

use super::frames::{read_admit, send_open, Open, SessionId};
use crate::secure::run::{run_party, PartyRun};
use crate::tcp::session::{assemble, dial, Peer};
use crate::tcp::transport::runtime;
use crate::tcp::{Identity, NetError, SessionConfig, SessionError, TcpTransport};

/// Why a client's inferences failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The session could not be opened (connection, authentication, refusal).
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The session broke during the inferences.
    #[error("P0: {0}")]
    Infer(#[from] InferError<NetError>),
}

impl ClientError {
    /// The party the failure is about, when one is known.
    pub fn peer(&self) -> Option<Role> {
        match self {
            ClientError::Session(e) => e.peer(),
            ClientError::Infer(e) => e.peer(),
        }
    }
}

/// Opens a session of `inferences` inferences of `batch` images each, `preprocess`ed or not,
/// with the service whose P1 and P2 are in `config` (this client's identity is `identity`; the
/// P0 entry's address is not used). Returns P0's party once both P1 and P2 have admitted it.
pub fn open_session(
    config: &SessionConfig,
    identity: &Identity,
    inferences: u32,
    batch: u32,
    preprocess: bool,
) -> Result<Party<TcpTransport>, SessionError> {
    let rt = runtime()?;
    let deadline = Instant::now() + config.connect_timeout;
    let open = Open {
        id: session_id()?,
        inferences,
        batch,
        preprocess,
        client: [0; 32],
    };
    let join = |server: Role| async move {
        let mut peer = dial_server(config, server, identity, deadline).await?;
        admitted(&mut peer, &open, deadline).await?;
        Ok::<Peer, SessionError>(peer)
    };
    let peers = rt.block_on(async { tokio::try_join!(join(Role::P1), join(Role::P2)) })?;
    let handle = rt.handle().clone();
    let (keys, transport) = assemble(
        Role::P0,
        vec![peers.0, peers.1],
        handle,
        Some(rt),
        config.limits(),
    )?;
    Ok(Party::new(keys, transport))
}

/// P0's authenticated connection to `server` of the service in `config`.
pub(super) async fn dial_server(
    config: &SessionConfig,
    server: Role,
    identity: &Identity,
    deadline: tokio::time::Instant,
) -> Result<Peer, SessionError> {
    let entry = config.party(server);
    dial(
        Role::P0,
        server,
        entry.address,
        entry.pin,
        identity,
        deadline,
    )
    .await
}

/// A fresh random session id.
pub(crate) fn session_id() -> Result<SessionId, SessionError> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| SessionError::Rng(e.to_string()))?;
    Ok(id)
}

/// Announces the session to `server` and waits for its admission.
async fn admitted(server: &mut Peer, open: &Open, deadline: Instant) -> Result<(), SessionError> {
    let by = server.role;
    let hello = |error| SessionError::Hello { peer: by, error };
    send_open(&mut server.stream, Role::P0, by, open)
        .await
        .map_err(hello)?;
    let answer = timeout_at(deadline, read_admit(&mut server.stream, by))
        .await
        .map_err(|_| SessionError::Handshake {
            peer: Some(by),
            reason: "no admission answer before the deadline".into(),
        })?
        .map_err(hello)?;
    answer.map_err(|why| SessionError::Refused { by, why })
}

/// Runs one secure inference per input (each of `settings.batch` images) in one session with
/// the service: the library entry of `patchwork party --role p0 --service` and of the load
/// test.
pub fn infer_remote(
    config: &SessionConfig,
    identity: &Identity,
    model: &Model,
    spec: &Spec,
    settings: Settings,
    inputs: &[&[f32]],
) -> Result<Vec<PartyRun>, ClientError> {
    let count = u32::try_from(inputs.len()).map_err(|_| SessionError::Setup {
        what: "the session",
        reason: format!(
            "{} inferences are more than one session holds",
            inputs.len()
        ),
    })?;
    let batch = u32::try_from(settings.batch).unwrap_or(u32::MAX);
    let mut party = open_session(config, identity, count, batch, settings.preprocess)?;
    let mine: Vec<Option<&[f32]>> = inputs.iter().map(|x| Some(*x)).collect();
    Ok(run_party(
        &mut party,
        model,
        Held::NotMine,
        spec,
        settings,
        &mine,
    )?)
}
