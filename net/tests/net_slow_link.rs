//! Set-up over a slow link finishes before the clock runs out (found: at 50 Mbit/s and 100 ms
//! RTT, exact ResNet18 failed because P1 took its set-up as done once its 89.7 MB of weight
//! masks were queued, then timed out waiting for P0, which was still receiving them; and one
//! mask message can take longer than the timeout to arrive). Scaled down here: 33.5 MB of
//! weight masks (four layers of 8.4 MB) over a link of 8 MB/s (4.2 s) with a
//! 2-second timeout. Waits now end only after the timeout passes with no byte moving on the
//! link, P1's send queue is bounded, and P0 acknowledges every mask to P2 and the end of
//! set-up to P1.

use patchwork_test_support::net as net_common;
use patchwork_test_support::slow_link;

use std::time::Instant;

use net_common::{config, run_parties_with};
use patchwork_core::infer::Settings;
use patchwork_core::model::{
    LayerWeights, Linear, Model, Node, Op, Shape, TrainedModel, ValueInfo, Weights,
};
use patchwork_core::party::Party;
use patchwork_core::role::Role;
use patchwork_core::spec::Spec;
use patchwork_net::secure::run::run_party;
use slow_link::SlowLink;

const N: usize = 1024;

/// Four fully connected layers of N x N (4.2 million weights, 33.5 MB of masks from P1 to P0
/// at set-up) with a ReLU after the first, where P2 waits for P0 and P1.
fn wide_mlp() -> TrainedModel {
    let value = |i: usize| ValueInfo {
        name: format!("v{i}"),
        shape: Shape(vec![1, N]),
    };
    let node = |i: usize, op| Node {
        name: format!("n{i}"),
        op,
        inputs: vec![i],
        output: i + 1,
    };
    let fc = Op::Linear(Linear {
        in_features: N,
        out_features: N,
    });
    let ops = [fc, Op::Relu, fc, fc, fc];
    let weights = ops.iter().map(|op| {
        matches!(op, Op::Linear(_)).then(|| LayerWeights {
            weight: (0..N * N).map(|k| ((k % 7) as f32 - 3.0) / 256.0).collect(),
            bias: vec![0.0; N],
        })
    });
    let weights = Weights::new(weights.collect());
    let model = Model {
        values: (0..=ops.len()).map(value).collect(),
        nodes: ops
            .into_iter()
            .enumerate()
            .map(|(i, op)| node(i, op))
            .collect(),
        input: 0,
        output: 5,
    };
    TrainedModel::new(model, weights).unwrap()
}

#[test]
fn set_up_slower_than_the_timeout_on_a_slow_link_completes() {
    let (_dir, cfg) = config("slow"); // 2-second timeout
    let link = SlowLink::start(cfg.party(Role::P1).address, 8e6);
    let mut via_link = cfg.clone();
    via_link.parties[Role::P1.index()].address = link.address;
    let model = wide_mlp();
    let x: Vec<f32> = (0..N).map(|i| (i % 5) as f32 / 4.0).collect();
    let start = Instant::now();
    let results = run_parties_with([&via_link, &cfg, &cfg], |role, session| {
        let (keys, transport) = session.map_err(|e| e.to_string())?;
        let mut p = Party::new(keys, transport);
        let input = (role == Role::P0).then_some(&x[..]);
        run_party(
            &mut p,
            model.model(),
            model.weights_for(role),
            &Spec::default(),
            Settings::default(),
            &[input],
        )
        .map_err(|e| format!("{role}: {e}"))
    });
    let elapsed = start.elapsed();
    let errors: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert!(
        elapsed.as_secs_f64() > 4.0,
        "the link was not slow: {elapsed:?}"
    );
    let y = results[0].as_ref().unwrap()[0].output.clone().unwrap();
    assert_eq!(y.len(), N);
}

#[test]
fn a_message_that_takes_longer_than_the_timeout_to_arrive_is_received() {
    use patchwork_core::transport::{Tag, Transport};
    use patchwork_net::tcp::{Limits, TcpTransport};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let link = SlowLink::start(listener.local_addr().unwrap(), 8e6);
    let receiver = std::net::TcpStream::connect(link.address).unwrap();
    let (sender, _) = listener.accept().unwrap();
    let limits = Limits {
        timeout: std::time::Duration::from_secs(1),
        ..Limits::default()
    };
    let mut p0 = TcpTransport::over_tcp(Role::P0, [Some(receiver), None], limits).unwrap();
    let mut p1 = TcpTransport::over_tcp(Role::P1, [Some(sender), None], limits).unwrap();
    let tag = Tag { seq: 1, msg: 1 };
    // 20 MB at 8 MB/s: 2.5 s, bytes moving all along.
    p1.send(Role::P0, tag, &vec![3u8; 20_000_000]).unwrap();
    let start = Instant::now();
    let mut buf = vec![0u8; 20_000_000];
    p0.recv(Role::P1, tag, &mut buf).unwrap();
    assert!(start.elapsed().as_secs_f64() > 1.5, "{:?}", start.elapsed());
    assert!(buf.iter().all(|&b| b == 3));
}
