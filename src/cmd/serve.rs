//! `patchwork serve`: P1 or P2 as a long-running service for many P0 clients.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use patchwork_core::role::Role;
use patchwork_net::service::{Served, Service, ServiceConfig};

use super::party::ModelArgs;
use super::values::ServerRole;

/// `patchwork serve`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Which server this is.
    #[arg(long, value_enum)]
    pub role: ServerRole,
    /// Service file (TOML): P1's and P2's addresses and pinned certificates, this party's key,
    /// the pinned clients and `max_sessions` (see net/src/service/config.rs).
    #[arg(long)]
    pub config: PathBuf,
    /// The model, spec and settings every party must agree on.
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Loads the model once and serves until the process is stopped, printing a line whenever the
/// session counters change.
pub fn run_serve(args: &ServeArgs) -> Result<(), String> {
    let role: Role = args.role.into();
    if let Some(b) = args.model.settings.batch {
        return Err(format!(
            "serve takes no --batch ({b}): each client asks for its own batch when it opens a \
             session, up to the service file's max_batch"
        ));
    }
    if args.model.settings.preprocess {
        return Err(
            "serve takes no --preprocess: each client asks for it when it opens a \
                    session, up to the service file's max_preprocessed_mb"
                .into(),
        );
    }
    let mut config = ServiceConfig::load(&args.config).map_err(|e| e.to_string())?;
    if let Some(t) = args.model.settings.timeout() {
        config.timeout = t;
    }
    let identity = config.identity(role).map_err(|e| e.to_string())?;
    let (model, weights, spec, settings) = args.model.load(role)?;
    let served = Served {
        model: Arc::new(model),
        weights: weights.map(Arc::new),
        spec: Arc::new(spec),
        settings,
    };
    let (clients, max) = (config.clients.len(), config.limits.max_sessions);
    let service = Service::start(role, config, identity, served).map_err(|e| e.to_string())?;
    outln!(
        "{role} serving on {} ({clients} pinned clients, at most {max} sessions at once)",
        service.address()
    );
    let mut shown = (0, 0, 0);
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let counts = service.stats().counts();
        if counts != shown {
            shown = counts;
            let (completed, failed, rejected) = counts;
            let last = match (failed + rejected, service.stats().last_error()) {
                (1.., Some(e)) => format!("; last error: {e}"),
                _ => String::new(),
            };
            outln!("{role}: sessions completed {completed}, failed {failed}, rejected {rejected}{last}");
        }
    }
}
