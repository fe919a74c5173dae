//! A criterion measurement of the CPU time the whole process spends (all threads, user and
//! system: the client, the loopback server on its thread, and the kernel's work for both),
//! from `CLOCK_PROCESS_CPUTIME_ID`. Other processes on the machine barely move it, unlike wall
//! time, so its ratios hold on a busy machine; wall time stays the primary figure.

use criterion::Throughput;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};

/// CPU time of this process, in nanoseconds.
pub struct ProcessCpuTime;

/// The CPU time this process has spent so far (all threads, user and system), in nanoseconds.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Durations are formatted as criterion formats wall time.
static DURATIONS: WallTime = WallTime;

/// Formats values as durations; delegates to criterion's wall-time formatter.
struct Formatter;

impl ValueFormatter for Formatter {
    fn scale_values(&self, typical_value: f64, values: &mut [f64]) -> &'static str {
        DURATIONS.formatter().scale_values(typical_value, values)
    }

    fn scale_throughputs(&self, typical_value: f64, throughput: &Throughput, values: &mut [f64]) -> &'static str {
        DURATIONS.formatter().scale_throughputs(typical_value, throughput, values)
    }

    fn scale_for_machines(&self, values: &mut [f64]) -> &'static str {
        DURATIONS.formatter().scale_for_machines(values)
    }
}

impl Measurement for ProcessCpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        now_ns()
    }

    fn end(&self, start: u64) -> u64 {
        now_ns().saturating_sub(start)
    }

    fn add(&self, v1: &u64, v2: &u64) -> u64 {
        v1 + v2
    }

    fn zero(&self) -> u64 {
        0
    }

    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &Formatter
    }
}
