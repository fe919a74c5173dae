//! A global allocator that counts live heap bytes and their peak, for the memory tests: a test
//! file installs it with `#[global_allocator]` (one test per file, so that no other test's
//! allocations are counted) and reads the peak growth over a baseline.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

thread_local! {
    /// Set on a thread whose allocations are not counted (a loopback server's).
    static UNCOUNTED: Cell<bool> = const { Cell::new(false) };
}

/// Leaves the calling thread's allocations out of every [`CountingAllocator`]'s counts.
pub fn leave_thread_uncounted() {
    UNCOUNTED.set(true);
}

fn counted() -> bool {
    !UNCOUNTED.try_with(Cell::get).unwrap_or(false)
}

/// The system allocator, counting the live bytes of counted threads and their peak.
pub struct CountingAllocator {
    live: AtomicUsize,
    peak: AtomicUsize,
}

impl CountingAllocator {
    /// An allocator with nothing counted yet.
    pub const fn new() -> Self {
        Self { live: AtomicUsize::new(0), peak: AtomicUsize::new(0) }
    }

    /// Starts a measurement: the peak is reset to the live bytes now, which are returned.
    pub fn baseline(&self) -> usize {
        let baseline = self.live.load(Ordering::Relaxed);
        self.peak.store(baseline, Ordering::Relaxed);
        baseline
    }

    /// How far the peak has risen above `baseline` since [`baseline`](Self::baseline).
    pub fn peak_growth(&self, baseline: usize) -> usize {
        self.peak.load(Ordering::Relaxed).saturating_sub(baseline)
    }

    fn grew(&self, by: usize) {
        let now = self.live.fetch_add(by, Ordering::Relaxed) + by;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }
}

impl Default for CountingAllocator {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are updated.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() && counted() {
            self.grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        if counted() {
            self.live.fetch_sub(layout.size(), Ordering::Relaxed);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() && counted() {
            self.live.fetch_sub(layout.size(), Ordering::Relaxed);
            self.grew(new_size);
        }
        new
    }
}
