//! Standard output as Unix tools treat it: [`outln!`](crate::outln) and [`out!`](crate::out)
//! print like `println!` and `print!`, but when stdout is a closed pipe (`patchwork ... | head -1`)
//! the process exits at once, quietly and with success, instead of panicking; any other write
//! error ends it with a message and status 1.

use std::fmt;
use std::io::{self, Write};

/// Prints a line to stdout (see the module).
#[macro_export]
macro_rules! outln {
    () => { $crate::out::write(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::out::write(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Prints to stdout without a newline (see the module).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::out::write(format_args!($($arg)*)) };
}

/// Writes `args` to stdout and flushes; exits on a closed pipe or another write error.
pub fn write(args: fmt::Arguments<'_>) {
    let mut stdout = io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        exit_on(e)
    }
}

/// Ends the process after a failed write to stdout: status 0 for a closed pipe, else 1.
pub fn exit_on(e: io::Error) -> ! {
    if e.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(0)
    }
    eprintln!("error: cannot write to stdout: {e}");
    std::process::exit(1)
}
