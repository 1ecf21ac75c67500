//! P0's session: keys from the peers, the model's architecture, set-up and one secure
//! inference of the bundled image, all with the same `patchwork-core` code the host runs.

use alloc::vec::Vec;

use patchwork_core::held::Held;
use patchwork_core::infer::{argmax, SecureModel, Settings};
use patchwork_core::party::Party;
use patchwork_core::patch::PatchSize;
use patchwork_core::role::Role;
use patchwork_core::spec::{LayerSpec, Spec};
use patchwork_core::transport::stream::StreamTransport;
use patchwork_core::transport::Transport;

use crate::clock;
use crate::error::FwError;
use crate::generated;
use crate::keys;
use crate::uart::Uart;

/// UART0 (to P1) and UART1 (to P2) of the mps2-an386.
const UART0: usize = 0x4000_4000;
const UART1: usize = 0x4000_5000;
/// How long P0 waits for a peer before giving up (QEMU and the host are slow to start).
const TIMEOUT_MS: u32 = 120_000;

/// What the session produced.
pub struct Outcome {
    pub logits: Vec<f32>,
    pub class: usize,
    pub setup_ms: u32,
    pub infer_ms: u32,
    /// Line bytes (frames, headers and key messages) sent to / received from P1 and P2.
    pub line_sent: [u64; 2],
    pub line_received: [u64; 2],
    /// Protocol payload bytes sent to P1 and P2, and the rounds of the run.
    pub payload_sent: [u64; 2],
    pub rounds: u32,
}

/// The spec from the generated table.
fn spec() -> Result<Spec, FwError> {
    let mut layers = Vec::with_capacity(generated::SPEC.len());
    for (name, pairs) in generated::SPEC {
        let mut patch_sizes = Vec::with_capacity(pairs.len());
        for &[h, w] in pairs.iter() {
            let p = PatchSize::from_pair(h, w).ok_or(FwError::BadPatch {
                layer: name,
                pair: [h, w],
            })?;
            patch_sizes.push(p);
        }
        layers.push(LayerSpec {
            name: (*name).into(),
            patch_sizes,
        });
    }
    Ok(Spec {
        layers,
        calibration: None,
    })
}

/// Runs the session as P0.
pub fn run() -> Result<Outcome, FwError> {
    // SAFETY: the two UARTs are used only here.
    let (mut to_p1, mut to_p2) =
        unsafe { (Uart::new(UART0, TIMEOUT_MS), Uart::new(UART1, TIMEOUT_MS)) };
    let k01 = keys::receive_key(&mut to_p1, Role::P1)?;
    let k02 = keys::receive_key(&mut to_p2, Role::P2)?;
    let model = generated::model();
    model.check().map_err(FwError::Model)?;
    let spec = spec()?;
    let input: Vec<f32> = generated::IMAGE.iter().map(|&b| b as f32 / 255.0).collect();
    let settings = Settings::PAPER;
    let transport = StreamTransport::new(Role::P0, [Some(to_p1), Some(to_p2)]);
    let mut party = Party::new(keys::p0_keys(k01, k02), transport);
    let t0 = clock::now_ms();
    let secure = SecureModel::setup(&mut party, &model, Held::NotMine, &spec, settings, 1)?;
    let setup_ms = clock::since_ms(t0);
    let t1 = clock::now_ms();
    let logits = secure
        .infer(&mut party, Held::Mine(&input), &mut |_, _| {})?
        .ok_or(FwError::NoOutput)?;
    let infer_ms = clock::since_ms(t1);
    let t = party.transport();
    let payload_sent = [t.bytes_sent(Role::P1), t.bytes_sent(Role::P2)];
    let rounds = t.rounds();
    let [_, p1, p2] = party.into_transport().into_streams();
    let line = |u: &Option<Uart>| u.as_ref().map(|u| (u.sent, u.received)).unwrap_or((0, 0));
    let ((s1, r1), (s2, r2)) = (line(&p1), line(&p2));
    Ok(Outcome {
        class: argmax(&logits),
        logits,
        setup_ms,
        infer_ms,
        line_sent: [s1, s2],
        line_received: [r1, r2],
        payload_sent,
        rounds,
    })
}
