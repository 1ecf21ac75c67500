//! Patchwork P0 (the client, holding the image) as firmware for a Cortex-M4F, run under QEMU
//! (`mps2-an386`). UART0 talks to P1 (the server with the model), UART1 to P2 (the helper);
//! the result and any error go out over semihosting, and the exit code is 0 on success, 1 on
//! any error. See README.md.

#![no_std]
#![no_main]

extern crate alloc;

mod clock;
mod error;
#[rustfmt::skip]
#[allow(clippy::all)]
mod generated;
mod heap;
mod keys;
mod session;
mod uart;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};

#[global_allocator]
static HEAP: heap::TrackingHeap = heap::TrackingHeap::empty();

#[entry]
fn main() -> ! {
    HEAP.init();
    hprintln!("P0: Patchwork client on Cortex-M4F, waiting for P1 (UART0) and P2 (UART1)");
    match session::run() {
        Ok(o) => {
            hprintln!("P0 logits: {:?}", o.logits);
            hprintln!(
                "P0 set-up {} ms, inference {} ms (QEMU time), {} rounds",
                o.setup_ms,
                o.infer_ms,
                o.rounds
            );
            hprintln!(
                "P0 line bytes: to P1 {}, from P1 {}, to P2 {}, from P2 {}; payload sent: to P1 {}, to P2 {}",
                o.line_sent[0],
                o.line_received[0],
                o.line_sent[1],
                o.line_received[1],
                o.payload_sent[0],
                o.payload_sent[1]
            );
            hprintln!(
                "P0 peak heap: {} bytes of {}",
                HEAP.peak(),
                heap::HEAP_BYTES
            );
            hprintln!("P0 class: {} (label {})", o.class, generated::LABEL);
            exit(true)
        }
        Err(e) => {
            hprintln!("P0 error: {}", e);
            hprintln!("P0 peak heap: {} bytes", HEAP.peak());
            exit(false)
        }
    }
}

/// Ends the QEMU run with exit code 0 (`ok`) or 1.
fn exit(ok: bool) -> ! {
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    #[allow(clippy::empty_loop)]
    loop {}
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    hprintln!("P0 panic: {}", info);
    exit(false)
}
