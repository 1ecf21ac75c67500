//! Milliseconds (10 ms resolution) from the mps2 FPGA I/O block's 100 Hz counter, for the UART
//! timeouts and the timings.
//!
//! The counter is read, not interrupt-driven: QEMU computes it from its virtual clock on every
//! read, so it cannot lose ticks while the core is busy (a SysTick interrupt counter did: under
//! QEMU it ran about 2x slow while the UARTs were polled). Without `-icount` QEMU's virtual
//! clock is the host's clock, so these are emulation times, not device times.

use core::ptr::read_volatile;

/// FPGAIO `CLK100HZ` register of the mps2-an385/an386 (FPGAIO block at 0x4002_8000).
const CLK100HZ: usize = 0x4002_8000 + 0x14;

/// Milliseconds since an arbitrary origin, in steps of 10 (wraps after 497 days).
pub fn now_ms() -> u32 {
    // SAFETY: a read-only counter register of the FPGA I/O block, always mapped on this board.
    let ticks = unsafe { read_volatile(CLK100HZ as *const u32) };
    ticks.wrapping_mul(10)
}

/// Milliseconds since `start_ms` (a value of [`now_ms`]).
pub fn since_ms(start_ms: u32) -> u32 {
    now_ms().wrapping_sub(start_ms)
}
