//! All three parties in one process, one thread each, over the in-memory network.

use patchwork_core::infer::{InferError, SecureModel, Settings};
use patchwork_core::model::Model;
use patchwork_core::net::memory;
use patchwork_core::role::Role;
use patchwork_core::spec::Spec;

use super::report::{combine, Report};
use super::run::run_party;

/// Runs one secure inference per input with the three parties on threads; keys from `seed`.
pub fn infer_local(
    model: &Model,
    spec: &Spec,
    settings: Settings,
    inputs: &[&[f32]],
    seed: u64,
) -> Result<Vec<Report>, InferError<memory::Never>> {
    let (runs, _) = memory::run(seed, |p| {
        let mine: Vec<Option<&[f32]>> = inputs
            .iter()
            .map(|x| (p.role() == Role::P0).then_some(*x))
            .collect();
        run_party(p, model, spec, settings, &mine)
    });
    let [r0, r1, r2] = runs;
    let (r0, r1, r2) = (r0?, r1?, r2?);
    // The cost model only needs shapes and patch sizes: a set-up without a network.
    let secure = SecureModel::describe(model, spec, settings).map_err(InferError::Spec)?;
    Ok((0..inputs.len())
        .map(|i| {
            combine(
                model,
                &secure,
                &[r0[i].clone(), r1[i].clone(), r2[i].clone()],
            )
        })
        .collect())
}
