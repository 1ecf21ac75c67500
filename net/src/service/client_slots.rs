//! Sessions per client, for the service's `max_sessions_per_client`: a slot is taken when a
//! client's session arrives (before pairing and set-up) and given back when the session ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::tcp::Fingerprint;

type Counts = Arc<Mutex<HashMap<Fingerprint, usize>>>;

/// The number of sessions each client holds.
#[derive(Default)]
pub(crate) struct ClientSlots {
    counts: Counts,
}

/// One session of a client; dropping it gives the slot back.
pub(crate) struct ClientSlot {
    counts: Counts,
    client: Fingerprint,
}

fn lock(counts: &Counts) -> std::sync::MutexGuard<'_, HashMap<Fingerprint, usize>> {
    // Single increments and decrements cannot leave the map inconsistent.
    counts.lock().unwrap_or_else(|e| e.into_inner())
}

impl ClientSlots {
    /// A slot for `client` if it holds fewer than `limit` sessions.
    pub(super) fn take(&self, client: Fingerprint, limit: usize) -> Option<ClientSlot> {
        let mut counts = lock(&self.counts);
        let held = counts.entry(client).or_insert(0);
        if *held >= limit {
            return None;
        }
        *held += 1;
        Some(ClientSlot {
            counts: self.counts.clone(),
            client,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        if let Some(held) = counts.get_mut(&self.client) {
            *held -= 1;
            if *held == 0 {
                counts.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_holds_at_most_its_limit_and_gets_slots_back() {
        let slots = ClientSlots::default();
        let (a, b) = ([1; 32], [2; 32]);
        let first = slots.take(a, 2).unwrap();
        let _second = slots.take(a, 2).unwrap();
        assert!(slots.take(a, 2).is_none());
        assert!(slots.take(b, 2).is_some(), "another client is not affected");
        drop(first);
        assert!(slots.take(a, 2).is_some());
    }
}
