//! The session configuration file: loading, path resolution and clear errors.

use patchwork_test_support::net as net_common;

use net_common::temp_dir;
use patchwork_core::role::Role;
use patchwork_net::tcp::{fingerprint, loopback_config, ConfigError, SessionConfig};

#[test]
fn loopback_config_loads_and_resolves_paths() {
    let dir = temp_dir("cfg");
    let cfg = loopback_config(&dir, 0).unwrap();
    for role in Role::ALL {
        let p = cfg.party(role);
        assert!(p.address.ip().is_loopback() && p.address.port() != 0);
        assert_eq!(
            p.certificate.as_deref(),
            Some(dir.join(format!("p{}.der", role.index())).as_path())
        );
        let id = cfg.identity(role).unwrap();
        assert_eq!(id.fingerprint(), p.pin);
        assert!(!format!("{id:?}").is_empty());
    }
    assert_eq!(cfg.timeout.as_secs(), 10);
    // The file written for party processes says the same as the configuration built in memory.
    let file = SessionConfig::load(dir.join("session.toml")).unwrap();
    for role in Role::ALL {
        let (a, b) = (cfg.party(role), file.party(role));
        assert_eq!(
            (a.address, a.pin, &a.certificate, &a.key),
            (b.address, b.pin, &b.certificate, &b.key)
        );
    }
    assert_eq!(
        (cfg.timeout, cfg.connect_timeout, cfg.max_frame),
        (file.timeout, file.connect_timeout, file.max_frame)
    );
}

fn parse(text: &str) -> Result<SessionConfig, ConfigError> {
    let dir = temp_dir("cfg-parse");
    std::fs::write(dir.join("p0.der"), b"cert0").unwrap();
    SessionConfig::parse(text, &dir.join("x.toml"), &dir)
}

const FP: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn three(p2_address: &str) -> String {
    format!(
        "[session]\ntimeout_secs = 3\n[parties.p0]\naddress = \"127.0.0.1:1\"\ncertificate = \"p0.der\"\n\
         [parties.p1]\naddress = \"127.0.0.1:2\"\nfingerprint = \"{FP}\"\n\
         [parties.p2]\naddress = \"{p2_address}\"\nfingerprint = \"{FP}\"\n"
    )
}

#[test]
fn fingerprints_and_certificates_pin() {
    let cfg = parse(&three("127.0.0.1:3")).unwrap();
    assert_eq!(cfg.party(Role::P0).pin, fingerprint(b"cert0"));
    assert_eq!(cfg.party(Role::P1).pin, [0; 32]);
    assert_eq!(cfg.timeout.as_secs(), 3);
    assert!(matches!(
        cfg.identity(Role::P0),
        Err(ConfigError::MissingIdentity {
            role: Role::P0,
            field: "key"
        })
    ));
}

#[test]
fn errors_name_the_file_and_field() {
    let missing = SessionConfig::load("/nonexistent/patchwork.toml").unwrap_err();
    assert!(matches!(missing, ConfigError::File { .. }), "{missing}");
    assert!(missing.to_string().contains("/nonexistent/patchwork.toml"));

    let bad = parse("[parties.p0\n").unwrap_err();
    assert!(matches!(bad, ConfigError::Toml { .. }), "{bad}");

    let text = three("127.0.0.1:3");
    let no_p2 = &text[..text.find("[parties.p2]").unwrap()];
    assert!(matches!(
        parse(no_p2),
        Err(ConfigError::MissingParty { role: Role::P2, .. })
    ));

    let addr = parse(&three("not an address")).unwrap_err();
    assert!(
        matches!(addr, ConfigError::BadAddress { role: Role::P2, .. }),
        "{addr}"
    );
    assert!(addr.to_string().contains("parties.p2.address"));

    let fp = parse(&three("127.0.0.1:3").replace(
        &format!("fingerprint = \"{FP}\"\n[parties.p2]"),
        "fingerprint = \"abc\"\n[parties.p2]",
    ))
    .unwrap_err();
    assert!(
        matches!(fp, ConfigError::BadPin { role: Role::P1, .. }),
        "{fp}"
    );

    let no_cert =
        parse(&three("127.0.0.1:3").replace("certificate = \"p0.der\"\n", "")).unwrap_err();
    assert!(
        matches!(no_cert, ConfigError::BadPin { role: Role::P0, .. }),
        "{no_cert}"
    );

    let gone = parse(&three("127.0.0.1:3").replace("p0.der", "missing.der")).unwrap_err();
    assert!(
        matches!(&gone, ConfigError::File { path, .. } if path.ends_with("missing.der")),
        "{gone}"
    );

    let unknown = parse(&format!(
        "{}[parties.p3]\naddress = \"127.0.0.1:4\"\n",
        three("127.0.0.1:3")
    ))
    .unwrap_err();
    assert!(unknown.to_string().contains("p3"), "{unknown}");
}
