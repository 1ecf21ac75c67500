//! The CMSDK APB UART of the mps2-an386 as an `embedded-io` byte stream, polled, with a
//! timeout on every wait so that a silent peer gives [`UartError::Timeout`], not a hang.
//!
//! Registers (ARM CMSDK APB UART): DATA +0x0, STATE +0x4 (bit 0 TX full, bit 1 RX full,
//! bit 3 RX overrun, write 1 to clear), CTRL +0x8 (bit 0 TX enable, bit 1 RX enable),
//! BAUDDIV +0x10 (at least 16).

use core::ptr::{read_volatile, write_volatile};

use crate::clock;

const DATA: usize = 0x0;
const STATE: usize = 0x4;
const CTRL: usize = 0x8;
const BAUDDIV: usize = 0x10;
const TX_FULL: u32 = 1 << 0;
const RX_FULL: u32 = 1 << 1;
const RX_OVERRUN: u32 = 1 << 3;

/// What can go wrong on the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UartError {
    /// Nothing arrived (or the transmitter stayed full) for this many milliseconds.
    Timeout { waited_ms: u32 },
    /// A received byte was lost because the receive buffer was full.
    Overrun,
}

impl core::fmt::Display for UartError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            UartError::Timeout { waited_ms } => write!(f, "UART timed out after {waited_ms} ms"),
            UartError::Overrun => write!(f, "UART receive overrun (a byte was lost)"),
        }
    }
}

impl core::error::Error for UartError {}

impl embedded_io::Error for UartError {
    fn kind(&self) -> embedded_io::ErrorKind {
        match self {
            UartError::Timeout { .. } => embedded_io::ErrorKind::TimedOut,
            UartError::Overrun => embedded_io::ErrorKind::Other,
        }
    }
}

/// One UART, with counters of the bytes it moved.
pub struct Uart {
    base: usize,
    timeout_ms: u32,
    /// Bytes written so far.
    pub sent: u64,
    /// Bytes read so far.
    pub received: u64,
}

impl Uart {
    /// Enables the UART at `base` (0x4000_4000 for UART0, 0x4000_5000 for UART1).
    ///
    /// # Safety
    /// `base` must be a CMSDK APB UART that nothing else uses.
    pub unsafe fn new(base: usize, timeout_ms: u32) -> Uart {
        let uart = Uart {
            base,
            timeout_ms,
            sent: 0,
            received: 0,
        };
        uart.write_reg(BAUDDIV, 16);
        uart.write_reg(CTRL, 0b11);
        uart
    }

    fn read_reg(&self, offset: usize) -> u32 {
        // SAFETY: `new`'s contract: `base` is this UART's register block.
        unsafe { read_volatile((self.base + offset) as *const u32) }
    }

    fn write_reg(&self, offset: usize, value: u32) {
        // SAFETY: as in `read_reg`.
        unsafe { write_volatile((self.base + offset) as *mut u32, value) }
    }

    /// Polls until `ready(state)` holds, or times out.
    fn wait(&self, ready: impl Fn(u32) -> bool) -> Result<(), UartError> {
        let start = clock::now_ms();
        loop {
            let state = self.read_reg(STATE);
            if state & RX_OVERRUN != 0 {
                self.write_reg(STATE, RX_OVERRUN);
                return Err(UartError::Overrun);
            }
            if ready(state) {
                return Ok(());
            }
            let waited_ms = clock::since_ms(start);
            if waited_ms > self.timeout_ms {
                return Err(UartError::Timeout { waited_ms });
            }
        }
    }
}

impl embedded_io::ErrorType for Uart {
    type Error = UartError;
}

impl embedded_io::Read for Uart {
    /// Waits for at least one byte, then takes what is there without waiting further.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, UartError> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.wait(|s| s & RX_FULL != 0)?;
        let mut n = 0;
        while n < buf.len() && self.read_reg(STATE) & RX_FULL != 0 {
            buf[n] = self.read_reg(DATA) as u8;
            n += 1;
        }
        self.received += n as u64;
        Ok(n)
    }
}

impl embedded_io::Write for Uart {
    /// Waits for room for one byte, then sends while there is room.
    fn write(&mut self, buf: &[u8]) -> Result<usize, UartError> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.wait(|s| s & TX_FULL == 0)?;
        let mut n = 0;
        while n < buf.len() && self.read_reg(STATE) & TX_FULL == 0 {
            self.write_reg(DATA, buf[n] as u32);
            n += 1;
        }
        self.sent += n as u64;
        Ok(n)
    }

    /// The CMSDK UART has no "transmitter empty" flag: waits until the buffer has room.
    fn flush(&mut self) -> Result<(), UartError> {
        self.wait(|s| s & TX_FULL == 0)
    }
}
