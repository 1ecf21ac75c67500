//! The heap: `embedded-alloc`'s linked-list allocator over a static block, wrapped to record
//! the bytes in use and their peak.

use core::alloc::{GlobalAlloc, Layout};
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicUsize, Ordering};

use embedded_alloc::LlffHeap;

/// Heap size: 3.5 MiB of the 4 MiB RAM; the rest holds the stack and statics.
pub const HEAP_BYTES: usize = 3584 * 1024;

/// An allocator that counts what it hands out.
pub struct TrackingHeap {
    inner: LlffHeap,
    used: AtomicUsize,
    peak: AtomicUsize,
}

impl TrackingHeap {
    /// An empty heap; call [`TrackingHeap::init`] before the first allocation.
    pub const fn empty() -> TrackingHeap {
        TrackingHeap {
            inner: LlffHeap::empty(),
            used: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// Gives the heap its memory. Call once, first thing in `main`.
    pub fn init(&self) {
        static mut MEMORY: [MaybeUninit<u8>; HEAP_BYTES] = [MaybeUninit::uninit(); HEAP_BYTES];
        // SAFETY: called once before any allocation; MEMORY is used by nothing else.
        unsafe {
            self.inner
                .init(core::ptr::addr_of_mut!(MEMORY) as usize, HEAP_BYTES)
        }
    }

    /// Most bytes in use at once so far (requested sizes, without allocator overhead).
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }
}

// SAFETY: forwards to LlffHeap, a GlobalAlloc, and only adds counters.
unsafe impl GlobalAlloc for TrackingHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = self.inner.alloc(layout);
        if !p.is_null() {
            let now = self.used.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            self.peak.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.inner.dealloc(ptr, layout);
        self.used.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}
