//! Milliseconds since boot from SysTick, for the UART timeouts and the timings.
//!
//! SysTick runs from the core clock (25 MHz on the mps2-an386) and interrupts every
//! millisecond; the handler counts. Under QEMU the count follows QEMU's virtual clock, which
//! without `-icount` is the host's wall clock: it measures emulation time, not device time.

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;
use cortex_m_rt::exception;

/// Core clock of the mps2-an386 (SYSCLK).
const CORE_HZ: u32 = 25_000_000;

static MILLIS: AtomicU32 = AtomicU32::new(0);

/// Starts the millisecond tick.
pub fn start(mut syst: SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(CORE_HZ / 1000 - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

/// Milliseconds since [`start`] (wraps after 49 days).
pub fn now_ms() -> u32 {
    MILLIS.load(Ordering::Relaxed)
}

/// Milliseconds since `start_ms` (a value of [`now_ms`]).
pub fn since_ms(start_ms: u32) -> u32 {
    now_ms().wrapping_sub(start_ms)
}

#[exception]
fn SysTick() {
    MILLIS.fetch_add(1, Ordering::Relaxed);
}
