//! Clients that misbehave against a service, for the service's tests and the abuse load test
//! (`patchwork load-test --abusers N`): each holds or breaks a session the way an attacker
//! would, and reports what the service did about it.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use std::convert::Infallible;

use patchwork_core::held::Held;
use patchwork_core::infer::DescribedModel;
use patchwork_core::infer::Settings;
use patchwork_core::model::Model;
use patchwork_core::party::Party;
use patchwork_core::program;
use patchwork_core::role::Role;
use patchwork_core::spec::Spec;
use patchwork_core::transport::accounting::Accounting;
use patchwork_core::transport::{Tag, Transport, TransportError};

use super::client::{dial_server, open_session, session_id};
use super::frames::{read_admit, send_open, Open};
use crate::secure::run::run_party;
use crate::tcp::transport::runtime;
use crate::tcp::{Identity, NetError, SessionConfig, SessionError, TcpTransport};

/// One way of misbehaving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Abuse {
    /// Plain TCP connections to P1 and P2 that never start TLS.
    HalfOpen,
    /// A session announced to P1 only, never to P2 (so P2 can never pair it).
    OpenAtP1Only,
    /// A session announced to P2 only, never to P1 (so its half waits at P2 unpaired).
    OpenAtP2Only,
    /// A session whose client sends its program digest and then never reads.
    StopReading,
    /// A session whose client sends each message just before the timeout.
    Trickle,
    /// A frame larger than any message of the program.
    Oversized,
    /// A frame of the right length under another step's tag.
    Mislabelled,
    /// A session announcing u32::MAX inferences.
    AbsurdCount,
}

impl Abuse {
    /// Every kind, in the order the load test cycles through them.
    pub const ALL: [Abuse; 8] = [
        Abuse::HalfOpen,
        Abuse::OpenAtP1Only,
        Abuse::OpenAtP2Only,
        Abuse::StopReading,
        Abuse::Trickle,
        Abuse::Oversized,
        Abuse::Mislabelled,
        Abuse::AbsurdCount,
    ];

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Abuse::HalfOpen => "half-open connections",
            Abuse::OpenAtP1Only => "session announced to P1 only",
            Abuse::OpenAtP2Only => "session announced to P2 only",
            Abuse::StopReading => "client stops reading",
            Abuse::Trickle => "client trickles messages",
            Abuse::Oversized => "oversized frame",
            Abuse::Mislabelled => "mislabelled frame",
            Abuse::AbsurdCount => "u32::MAX inferences",
        }
    }
}

/// What the public side of a served program is, as the abusive client knows it.
pub struct PublicProgram<'a> {
    /// The architecture.
    pub model: &'a Model,
    /// The Block-ReLU spec.
    pub spec: &'a Spec,
    /// The settings.
    pub settings: Settings,
}

/// A transport that waits `delay` before every send.
struct Slow {
    inner: TcpTransport,
    delay: Duration,
}

impl Transport for Slow {
    type Error = NetError;
    fn send(&mut self, to: Role, tag: Tag, payload: &[u8]) -> Result<(), TransportError<NetError>> {
        std::thread::sleep(self.delay);
        self.inner.send(to, tag, payload)
    }
    fn recv(
        &mut self,
        from: Role,
        tag: Tag,
        buf: &mut [u8],
    ) -> Result<(), TransportError<NetError>> {
        self.inner.recv(from, tag, buf)
    }
    fn accounting(&self) -> &Accounting {
        self.inner.accounting()
    }

    fn accounting_mut(&mut self) -> &mut Accounting {
        self.inner.accounting_mut()
    }
}

/// Sends this client's program digest as the first step of a session, reading nothing.
fn send_digest(
    p: &mut Party<TcpTransport>,
    step: patchwork_core::party::Step,
    program: &PublicProgram<'_>,
) -> Result<(), String> {
    let described =
        DescribedModel::new::<Infallible>(program.model, program.spec, program.settings)
            .map_err(|e| e.to_string())?;
    let digest = described.program(1).digest();
    for peer in Role::P0.others() {
        p.send(peer, step, 1, &digest).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Misbehaves once as `abuse` against the service in `config` (this client's `identity`),
/// holding what it holds for at most `hold`; returns what the service answered, in words
/// (refusals included), or `Err` when the service let the abuse through: a session P2 never
/// saw or one of u32::MAX inferences admitted, a trickling session run to its end.
pub fn abuse_once(
    abuse: Abuse,
    config: &SessionConfig,
    identity: &Identity,
    program: &PublicProgram<'_>,
    hold: Duration,
) -> Result<String, String> {
    let started = Instant::now();
    let say =
        |e: &dyn std::fmt::Display| format!("{e} after {:.1} s", started.elapsed().as_secs_f64());
    match abuse {
        Abuse::HalfOpen => {
            let conns: Vec<TcpStream> = [Role::P1, Role::P2]
                .iter()
                .filter_map(|&r| TcpStream::connect(config.party(r).address).ok())
                .collect();
            // Wait for the service to close them (a read returns 0) or for `hold`.
            for mut c in conns {
                let _ = c.set_read_timeout(Some(hold));
                let _ = std::io::Read::read(&mut c, &mut [0u8; 1]);
            }
            Ok(say(&"closed by the service"))
        }
        Abuse::OpenAtP1Only => announce_at(Role::P1, config, identity, hold).map(|a| say(&a)),
        Abuse::OpenAtP2Only => announce_at(Role::P2, config, identity, hold).map(|a| say(&a)),
        Abuse::AbsurdCount => match open_session(config, identity, u32::MAX, 1, false) {
            Ok(_) => Err("a session of u32::MAX inferences was admitted".into()),
            Err(e) => Ok(say(&e)),
        },
        Abuse::StopReading | Abuse::Oversized | Abuse::Mislabelled => {
            // A refusal (e.g. the client's limit of sessions) lets nothing through.
            let mut p = match open_session(config, identity, 1, 1, false) {
                Ok(p) => p,
                Err(e) => return Ok(say(&e)),
            };
            let step = p.begin_step();
            let sent = match abuse {
                Abuse::StopReading => send_digest(&mut p, step, program),
                Abuse::Oversized => {
                    let big = vec![0u8; program::MAX_PROGRAM_BYTES + 1];
                    p.send(Role::P1, step, 1, &big).map_err(|e| e.to_string())
                }
                _ => {
                    let wrong = patchwork_core::party::Step { seq: step.seq + 9 };
                    let sent = p.send(Role::P1, wrong, 1, &[0; 32]);
                    sent.map_err(|e| e.to_string())
                }
            };
            if let Err(e) = sent {
                return Ok(say(&e));
            }
            // Hold the session (reading nothing) while the service ends it.
            std::thread::sleep(hold.saturating_sub(started.elapsed()));
            Ok(say(&"held"))
        }
        Abuse::Trickle => {
            let delay = config.limits().timeout.mul_f64(0.8);
            let p = match open_session(config, identity, 1, 1, false) {
                Ok(p) => p,
                Err(e) => return Ok(say(&e)),
            };
            let mut slow = p.map_transport(|inner| Slow { inner, delay });
            let x = vec![0.0f32; program.model.shape(program.model.input).numel()];
            let settings = program.settings;
            match run_party(
                &mut slow,
                program.model,
                Held::NotMine,
                program.spec,
                settings,
                &[Some(&x)],
            ) {
                Ok(_) => Err("a trickling session ran to its end".into()),
                Err(e) => Ok(say(&e)),
            }
        }
    }
}

/// Announces a session to `server` alone and waits at most `hold` for its answer, then hangs
/// up; `Err` if the half-announced session was admitted.
fn announce_at(
    server: Role,
    config: &SessionConfig,
    identity: &Identity,
    hold: Duration,
) -> Result<String, String> {
    let rt = runtime().map_err(|e| e.to_string())?;
    let answer = rt.block_on(async {
        let deadline = tokio::time::Instant::now() + hold;
        let mut peer = dial_server(config, server, identity, deadline).await?;
        let open = Open {
            id: session_id()?,
            inferences: 1,
            batch: 1,
            preprocess: false,
            client: [0; 32],
        };
        let hello = |error| SessionError::Hello {
            peer: server,
            error,
        };
        send_open(&mut peer.stream, Role::P0, server, &open)
            .await
            .map_err(hello)?;
        let answer = tokio::time::timeout_at(deadline, read_admit(&mut peer.stream, server));
        Ok::<_, SessionError>(answer.await.ok())
    });
    match answer {
        Ok(Some(Ok(Err(why)))) => Ok(why.to_string()),
        Ok(Some(Ok(Ok(())))) => Err(format!("a session only {server} saw was admitted")),
        Ok(Some(Err(e))) => Ok(e.to_string()),
        Ok(None) => Ok("held, no answer".into()),
        Err(e) => Ok(e.to_string()),
    }
}
