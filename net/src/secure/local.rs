//! All three parties on this machine, one thread each: over the in-memory network, or over
//! loopback TCP with authenticated TLS sessions (fresh identities in a temporary directory).

use std::convert::Infallible;

use patchwork_core::infer::{DescribedModel, Settings};
use patchwork_core::model::TrainedModel;
use patchwork_core::net::memory;
use patchwork_core::party::Party;
use patchwork_core::role::Role;
use patchwork_core::spec::Spec;
use patchwork_core::transport::Transport;

use super::report::{combine, Report};
use super::run::{run_party, PartyRun};
use crate::tcp::{connect, loopback_in_memory};

/// How long the parties of a local run have to connect and shake hands.
const SETUP_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

/// Which network carries the three parties' messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Network {
    /// Queues between threads (keys from a seed).
    Memory {
        /// Seed of the session keys (the in-memory network agrees no keys).
        seed: u64,
    },
    /// TLS over 127.0.0.1 with keys agreed in the handshakes; `timeout` per message.
    Tcp {
        /// How long a party waits for a silent peer.
        timeout: std::time::Duration,
    },
}

/// One party's part: set-up and one inference per input (P0 passes the inputs, P1 the
/// weights; the other parties get the architecture alone).
fn party_part<T: Transport>(
    p: &mut Party<T>,
    model: &TrainedModel,
    spec: &Spec,
    settings: Settings,
    inputs: &[&[f32]],
) -> Result<Vec<PartyRun>, String>
where
    T::Error: core::fmt::Debug,
{
    let mine: Vec<Option<&[f32]>> = inputs
        .iter()
        .map(|x| (p.role() == Role::P0).then_some(*x))
        .collect();
    let weights = model.weights_for(p.role());
    run_party(p, model.model(), weights, spec, settings, &mine)
        .map_err(|e| format!("{}: {e}", p.role()))
}

/// Runs one secure inference per input with the three parties on threads of this process.
pub fn infer_local(
    network: Network,
    model: &TrainedModel,
    spec: &Spec,
    settings: Settings,
    inputs: &[&[f32]],
) -> Result<Vec<Report>, String> {
    let runs: [Result<Vec<PartyRun>, String>; 3] = match network {
        Network::Memory { seed } => {
            memory::run(seed, |p| party_part(p, model, spec, settings, inputs)).0
        }
        Network::Tcp { timeout } => {
            let (config, identities) =
                loopback_in_memory(timeout, SETUP_DEADLINE).map_err(|e| e.to_string())?;
            let (config, identities) = (&config, &identities);
            std::thread::scope(|s| {
                let handles = Role::ALL.map(|role| {
                    s.spawn(move || {
                        let identity = &identities[role.index()];
                        let (keys, transport) =
                            connect(role, config, identity).map_err(|e| e.to_string())?;
                        party_part(
                            &mut Party::new(keys, transport),
                            model,
                            spec,
                            settings,
                            inputs,
                        )
                    })
                });
                handles.map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("a party thread panicked".into()))
                })
            })
        }
    };
    let [r0, r1, r2] = runs;
    let (r0, r1, r2) = (r0?, r1?, r2?);
    // The cost model needs only shapes and patch sizes.
    let model = model.model();
    let described =
        DescribedModel::new::<Infallible>(model, spec, settings).map_err(|e| e.to_string())?;
    Ok((0..inputs.len())
        .map(|i| {
            combine(
                model,
                &described,
                &[r0[i].clone(), r1[i].clone(), r2[i].clone()],
            )
        })
        .collect())
}

/// Runs `images` in inferences of `settings.batch` images each (the images of a batch one
/// after another; a last, smaller batch runs in a session of its own, since the batch is a
/// fact of the session): one report per batch, in order.
pub fn infer_local_batches(
    network: Network,
    model: &TrainedModel,
    spec: &Spec,
    settings: Settings,
    images: &[&[f32]],
) -> Result<Vec<Report>, String> {
    let size = settings.batch.max(1);
    let batches: Vec<Vec<f32>> = images.chunks(size).map(|b| b.concat()).collect();
    let full = images.len() / size;
    let refs: Vec<&[f32]> = batches.iter().map(|b| b.as_slice()).collect();
    let mut reports = match full {
        0 => Vec::new(),
        _ => infer_local(network, model, spec, settings, &refs[..full])?,
    };
    if full < refs.len() {
        let rest = Settings {
            batch: images.len() % size,
            ..settings
        };
        reports.extend(infer_local(network, model, spec, rest, &refs[full..])?);
    }
    Ok(reports)
}
