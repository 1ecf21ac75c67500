//! The multi-client service in-process: P1 and P2 services on loopback serve concurrent P0
//! clients whose results equal the float reference; an unknown client certificate is refused
//! while others are served; a client leaving mid-session ends only its own session; abusive
//! clients (`patchwork_net::service::abuse`) hold no slot they should not, and are refused or
//! ended by the service's limits.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use patchwork_core::fixed_point::FixedPoint;
use patchwork_core::held::Held;
use patchwork_core::infer::argmax;
use patchwork_core::infer::{SecureModel, Settings};
use patchwork_core::model::spec_check::ResolvedSpec;
use patchwork_core::model::TrainedModel;
use patchwork_core::protocol::drelu::Comparison;
use patchwork_core::protocol::truncate::Truncation;
use patchwork_core::role::Role;
use patchwork_model::commands::{load, load_checked_spec};
use patchwork_model::data::fashion::bundled_test64;
use patchwork_model::reference::forward;
use patchwork_net::service::abuse::{abuse_once, Abuse, PublicProgram};
use patchwork_net::service::loopback::loopback_service;
use patchwork_net::service::{
    infer_remote, open_session, Served, Service, ServiceConfig, ServiceLimits,
};
use patchwork_net::tcp::Refusal;
use patchwork_net::tcp::{generate_named_identity, SessionConfig, SessionError};

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

/// The demo's model (for the float reference) and what P1 serves: its architecture and
/// weights, the spec and the settings.
fn served() -> (TrainedModel, Served) {
    let trained = load(
        &models().join("fashion_resnet_brelu6.onnx"),
        &Default::default(),
    )
    .unwrap()
    .model;
    let spec = load_checked_spec(
        trained.model(),
        &models().join("fashion_resnet_brelu6.spec.json"),
    )
    .unwrap();
    let (model, weights) = trained.clone().into_parts();
    let served = Served {
        model: Arc::new(model),
        weights: Some(Arc::new(weights)),
        spec: Arc::new(spec),
        settings: Settings {
            fp: FixedPoint::new(12).unwrap(),
            cmp: Comparison::PAPER,
            trunc: Truncation::Local,
            calibrated: false,
            batch: 1,
            preprocess: false,
            sign: Default::default(),
        },
    };
    (trained, served)
}

/// P1 and P2 services for `clients` clients, and the clients' session files.
struct Running {
    _dir: tempfile::TempDir,
    trained: TrainedModel,
    served: Served,
    p1: Service,
    p2: Service,
    clients: Vec<SessionConfig>,
    dir: PathBuf,
}

fn start(clients: usize) -> Running {
    start_with(clients, |_| {})
}

/// As [`start`], with the service's limits changed by `limits`.
fn start_with(clients: usize, limits: impl FnOnce(&mut ServiceLimits)) -> Running {
    start_serving(clients, limits, served())
}

/// As [`start_with`], serving `served`.
fn start_serving(
    clients: usize,
    limits: impl FnOnce(&mut ServiceLimits),
    (trained, served): (TrainedModel, Served),
) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let files = loopback_service(dir.path(), clients, &ServiceLimits::default()).unwrap();
    let mut config = ServiceConfig::load(&files.service).unwrap();
    config.timeout = Duration::from_secs(5);
    config.connect_timeout = Duration::from_secs(10);
    limits(&mut config.limits);
    let [p1, p2] = [Role::P1, Role::P2].map(|role| {
        let identity = config.identity(role).unwrap();
        let mut served = served.clone();
        if role == Role::P2 {
            served.weights = None;
        }
        Service::start(role, config.clone(), identity, served).unwrap()
    });
    let clients = files
        .clients
        .iter()
        .map(|f| SessionConfig::load(f).unwrap())
        .collect();
    Running {
        dir: dir.path().to_path_buf(),
        _dir: dir,
        trained,
        served,
        p1,
        p2,
        clients,
    }
}

fn image(i: usize) -> Vec<f32> {
    bundled_test64().input(i).iter().copied().collect()
}

fn float_class(r: &Running, i: usize) -> usize {
    let y = forward(
        &r.trained,
        &bundled_test64().input(i),
        &ResolvedSpec::new(&r.served.model, &r.served.spec).unwrap(),
    )
    .unwrap();
    argmax(y.as_slice().unwrap())
}

/// Client `k` classifies the images `images` in one session; returns the secure classes.
fn classify(r: &Running, k: usize, images: &[usize]) -> Vec<usize> {
    let cfg = &r.clients[k];
    let identity = cfg.identity(Role::P0).unwrap();
    let xs: Vec<Vec<f32>> = images.iter().map(|&i| image(i)).collect();
    let refs: Vec<&[f32]> = xs.iter().map(|x| x.as_slice()).collect();
    let s = &r.served;
    let runs = infer_remote(cfg, &identity, &s.model, &s.spec, s.settings, &refs).unwrap();
    runs.iter()
        .map(|run| argmax(run.output.as_deref().unwrap()))
        .collect()
}

/// Waits (at most 20 s) until `done` holds.
fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > Duration::from_secs(20) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

#[test]
fn a_service_deciding_signs_by_fss_serves_its_clients() {
    let (trained, mut served) = served();
    served.settings.sign = patchwork_core::protocol::sign::SignProtocol::Fss;
    let r = start_serving(1, |_| {}, (trained, served));
    let want: Vec<usize> = [1, 2].iter().map(|&i| float_class(&r, i)).collect();
    assert_eq!(classify(&r, 0, &[1, 2]), want);
}

#[test]
fn a_client_may_preprocess_within_the_services_limit() {
    // 1 MB: the bundled model's 0.55 MB per inference fits once, not three times.
    let r = start_with(1, |l| l.max_preprocessed_mb = 1);
    let cfg = &r.clients[0];
    let id = cfg.identity(Role::P0).unwrap();
    let s = &r.served;
    let settings = Settings {
        preprocess: true,
        ..s.settings
    };
    let x = image(4);
    let runs = infer_remote(cfg, &id, &s.model, &s.spec, settings, &[&x]).unwrap();
    assert_eq!(
        argmax(runs[0].output.as_deref().unwrap()),
        float_class(&r, 4)
    );
    let offline = runs[0].offline.as_ref().expect("an offline phase");
    assert!(offline.kept_bytes > 0);
    assert_eq!(
        refusal(open_session(cfg, &id, 3, 1, true)),
        Refusal::Preprocessing
    );
    // Without preprocessing the same session is admitted.
    assert!(open_session(cfg, &id, 3, 1, false).is_ok());
}

#[test]
fn concurrent_clients_match_the_float_reference() {
    let r = start(3);
    let got: Vec<Vec<usize>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|k| {
                let r = &r;
                s.spawn(move || classify(r, k, &[2 * k, 2 * k + 1]))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (k, classes) in got.iter().enumerate() {
        for (j, &c) in classes.iter().enumerate() {
            assert_eq!(
                c,
                float_class(&r, 2 * k + j),
                "client {k}, image {}",
                2 * k + j
            );
        }
    }
    assert!(eventually(
        || r.p1.stats().counts().0 == 3 && r.p2.stats().counts().0 == 3
    ));
    assert_eq!(
        r.p1.stats().counts().1,
        0,
        "{:?}",
        r.p1.stats().last_error()
    );
}

#[test]
fn unknown_client_is_refused_and_others_are_served() {
    let r = start(1);
    let rogue = generate_named_identity(&r.dir, "rogue").unwrap();
    match open_session(&r.clients[0], &rogue, 1, 1, false) {
        Err(SessionError::Handshake { .. }) => {}
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("an unknown client was admitted"),
    }
    assert!(eventually(|| r.p1.stats().counts().2 >= 1));
    assert_eq!(classify(&r, 0, &[3]), vec![float_class(&r, 3)]);
}

#[test]
fn a_client_leaving_mid_session_ends_only_its_session() {
    let r = start(2);
    std::thread::scope(|s| {
        let leaver = s.spawn(|| {
            let cfg = &r.clients[0];
            let mut p0 = open_session(cfg, &cfg.identity(Role::P0).unwrap(), 3, 1, false).unwrap();
            let sv = &r.served;
            let secure =
                SecureModel::setup(&mut p0, &sv.model, Held::NotMine, &sv.spec, sv.settings, 3)
                    .unwrap();
            secure
                .infer(&mut p0, Held::Mine(&image(4)), &mut |_, _| {})
                .unwrap();
            // Leaves with two inferences of its session still announced.
        });
        let stayer = s.spawn(|| classify(&r, 1, &[5, 6]));
        leaver.join().unwrap();
        let classes = stayer.join().unwrap();
        assert_eq!(classes, vec![float_class(&r, 5), float_class(&r, 6)]);
    });
    assert!(eventually(
        || r.p1.stats().counts().1 == 1 && r.p2.stats().counts().1 == 1
    ));
    assert!(r.p1.stats().last_error().unwrap().contains("P0"));
    // The service still serves.
    assert_eq!(classify(&r, 1, &[7]), vec![float_class(&r, 7)]);
}

fn program(s: &Served) -> PublicProgram<'_> {
    PublicProgram {
        model: &s.model,
        spec: &s.spec,
        settings: s.settings,
    }
}

fn refusal(
    r: Result<patchwork_core::party::Party<patchwork_net::tcp::TcpTransport>, SessionError>,
) -> Refusal {
    match r {
        Err(SessionError::Refused { why, .. }) => why,
        Err(e) => panic!("expected a refusal, got {e}"),
        Ok(_) => panic!("expected a refusal, got a session"),
    }
}

#[test]
fn a_session_announced_to_p1_only_holds_no_slot() {
    // Found: P1 took the slot before P2 paired the session and held it for the set-up
    // deadline, so a few half-open sessions locked real clients out.
    let r = start_with(2, |l| l.max_sessions = 1);
    std::thread::scope(|s| {
        let abuser = s.spawn(|| {
            let cfg = &r.clients[0];
            let id = cfg.identity(Role::P0).unwrap();
            abuse_once(
                Abuse::OpenAtP1Only,
                cfg,
                &id,
                &program(&r.served),
                Duration::from_secs(8),
            )
        });
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(classify(&r, 1, &[3]), vec![float_class(&r, 3)]);
        // Ok: the abuser's half-session was never admitted.
        abuser.join().unwrap().unwrap();
    });
}

#[test]
fn a_client_that_hangs_up_before_admission_gets_its_slot_back_at_once() {
    // Found: a session announced to one server kept the client's slot there (P1 waiting on
    // P2's answer, P2 waiting for the other half) until the set-up deadline; a client refused
    // by one server and retrying was then refused by the other, round after round.
    for abuse in [Abuse::OpenAtP1Only, Abuse::OpenAtP2Only] {
        let r = start_with(1, |l| l.max_sessions_per_client = 1);
        let cfg = &r.clients[0];
        let id = cfg.identity(Role::P0).unwrap();
        let hold = Duration::from_millis(300);
        let held = abuse_once(abuse, cfg, &id, &program(&r.served), hold).unwrap();
        assert!(held.starts_with("held"), "{abuse:?} was not held: {held}");
        let hung_up = Instant::now();
        // The set-up deadline is 10 s; the slot must come back long before it.
        let reopened = loop {
            match open_session(cfg, &id, 1, 1, false) {
                Err(_) if hung_up.elapsed() < Duration::from_secs(3) => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                other => break other,
            }
        };
        if let Err(e) = reopened {
            panic!("{abuse:?}: the client was not admitted within 3 s of hanging up: {e}");
        }
    }
}

#[test]
fn absurd_inference_counts_and_a_clients_extra_sessions_are_refused() {
    let r = start_with(2, |l| {
        l.max_inferences = 100;
        l.max_sessions_per_client = 1;
    });
    let cfg = &r.clients[0];
    let id = cfg.identity(Role::P0).unwrap();
    assert_eq!(
        refusal(open_session(cfg, &id, u32::MAX, 1, false)),
        Refusal::TooManyInferences
    );
    assert_eq!(
        refusal(open_session(cfg, &id, 101, 1, false)),
        Refusal::TooManyInferences
    );
    let held = open_session(cfg, &id, 1, 1, false).unwrap();
    assert_eq!(
        refusal(open_session(cfg, &id, 1, 1, false)),
        Refusal::ClientLimit
    );
    // Another client is served meanwhile; once the first session ends, client 0 is again.
    assert_eq!(classify(&r, 1, &[5]), vec![float_class(&r, 5)]);
    drop(held);
    assert!(eventually(|| open_session(cfg, &id, 1, 1, false).is_ok()));
}

#[test]
fn connections_that_never_start_tls_are_capped_and_closed_at_the_handshake_deadline() {
    let r = start_with(1, |l| {
        l.max_pending = 4;
        l.handshake_timeout = Duration::from_secs(1);
    });
    let address = r.clients[0].party(Role::P1).address;
    let start = Instant::now();
    let mut idle: Vec<std::net::TcpStream> = (0..8)
        .map(|_| std::net::TcpStream::connect(address).unwrap())
        .collect();
    // Each read returns when the service closes the connection.
    let closed_after: Vec<Duration> = idle
        .iter_mut()
        .map(|c| {
            c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let n = std::io::Read::read(c, &mut [0u8; 1]).unwrap_or(0);
            assert_eq!(
                n, 0,
                "the service sent bytes to a connection that never spoke TLS"
            );
            start.elapsed()
        })
        .collect();
    let last = *closed_after.iter().max().unwrap();
    assert!(last < Duration::from_secs(4), "closed only after {last:?}");
    assert!(eventually(|| r.p1.stats().counts().2 >= 8));
    assert_eq!(classify(&r, 0, &[6]), vec![float_class(&r, 6)]);
}

#[test]
fn a_session_past_max_session_secs_is_ended() {
    let r = start_with(1, |l| l.max_session = Duration::from_secs(2));
    let mut cfg = r.clients[0].clone();
    cfg.timeout = Duration::from_secs(5); // the service's
    let id = cfg.identity(Role::P0).unwrap();
    let start = Instant::now();
    // Each message just before the 5 s timeout: only the session deadline ends it.
    let said = abuse_once(
        Abuse::Trickle,
        &cfg,
        &id,
        &program(&r.served),
        Duration::from_secs(30),
    );
    assert!(said.is_ok(), "{said:?}");
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    assert!(
        eventually(|| r
            .p1
            .stats()
            .last_error()
            .is_some_and(|e| e.contains("SessionExpired"))),
        "{:?}",
        r.p1.stats().last_error()
    );
}

#[test]
fn a_client_chooses_its_batch_up_to_the_services_max_batch() {
    let r = start_with(1, |l| l.max_batch = 8);
    let cfg = &r.clients[0];
    let id = cfg.identity(Role::P0).unwrap();
    let s = &r.served;
    let images = [8, 9, 10, 11];
    let batch: Vec<f32> = images.iter().flat_map(|&i| image(i)).collect();
    let settings = Settings {
        batch: 4,
        ..s.settings
    };
    let runs = infer_remote(cfg, &id, &s.model, &s.spec, settings, &[&batch]).unwrap();
    let out = runs[0].output.as_deref().unwrap();
    let classes = patchwork_core::infer::classes(out, 4);
    let float: Vec<usize> = images.iter().map(|&i| float_class(&r, i)).collect();
    assert_eq!(classes, float);
    for too_many in [0, 9] {
        assert_eq!(
            refusal(open_session(cfg, &id, 1, too_many, false)),
            Refusal::BatchSize,
            "a batch of {too_many}"
        );
    }
}
