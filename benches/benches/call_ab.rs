//! Per-call throughput of vc-api against the hand-written call, measured in alternating blocks
//! (vc-api, baseline, baseline, vc-api, ...) so that a load change on a shared machine hits both
//! alike, with the client thread pinned to one core and the loopback server's to the other.
//! Each block times `rounds` rounds of `width` concurrent `room_level_get` calls in wall time
//! and in the process's CPU time (client, server and kernel); the ratios are paired per block
//! and their median is printed.
//!
//! ```sh
//! cargo bench -p vc-api-benches --bench call_ab -- 1 2000 15   # width, rounds per block, blocks
//! cargo bench -p vc-api-benches --bench call_ab -- 64 40 15
//! ```

use std::time::Instant;

use vc_api_benches::cpu_time::now_ns;
use vc_api_benches::{ApiServer, Callers, client_runtime};

/// Pins the calling thread (and the threads it starts later) to `cpu`, when the machine has it.
fn pin_to(cpu: usize) {
    // SAFETY: the set is zeroed then filled by the libc macros; pid 0 is the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let args: Vec<usize> =
        std::env::args().skip(1).filter(|a| !a.starts_with("--")).filter_map(|a| a.parse().ok()).collect();
    match args.as_slice() {
        [width, rounds, blocks, ..] => run(*width, *rounds, *blocks),
        // `cargo bench`: both shapes of the call_overhead benchmark.
        _ => {
            run(1, 2000, 15);
            run(64, 40, 15);
        }
    }
}

/// Runs `blocks` alternating blocks of `rounds` rounds of `width` calls and prints the ratios.
fn run(width: usize, rounds: usize, blocks: usize) {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    if cpus >= 2 {
        pin_to(1); // the server thread inherits this core
    }
    let server = ApiServer::start();
    if cpus >= 2 {
        pin_to(0);
    }
    let callers = Callers::new(&server);
    let runtime = client_runtime();
    // (wall ns, cpu ns) per call of one block.
    let block = |vc: bool| {
        runtime.block_on(async {
            let (wall, cpu) = (Instant::now(), now_ns());
            for _ in 0..rounds {
                callers.room_level_round(vc, width).await;
            }
            let calls = (rounds * width) as f64;
            (wall.elapsed().as_nanos() as f64 / calls, (now_ns() - cpu) as f64 / calls)
        })
    };
    block(true); // warm-up: connections, caches
    block(false);
    let (mut wall_ratios, mut cpu_ratios) = (Vec::new(), Vec::new());
    let (mut ours_wall, mut theirs_wall, mut ours_cpu, mut theirs_cpu) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..blocks {
        let (ours, theirs) = if i % 2 == 0 {
            let ours = block(true);
            (ours, block(false))
        } else {
            let theirs = block(false);
            (block(true), theirs)
        };
        // Throughput of vc-api relative to the baseline: baseline time / vc-api time.
        wall_ratios.push(theirs.0 / ours.0);
        cpu_ratios.push(theirs.1 / ours.1);
        ours_wall.push(ours.0);
        theirs_wall.push(theirs.0);
        ours_cpu.push(ours.1);
        theirs_cpu.push(theirs.1);
    }
    println!(
        "call_ab: {width} at once, {blocks} alternating blocks of {rounds} rounds: throughput vc-api / baseline \
         {:.3} (wall; per call {:.2} µs vs {:.2} µs), {:.3} (CPU time; {:.2} µs vs {:.2} µs); CPU time ratio {:.3}x",
        median(&mut wall_ratios),
        median(&mut ours_wall) / 1000.0,
        median(&mut theirs_wall) / 1000.0,
        median(&mut cpu_ratios),
        median(&mut ours_cpu) / 1000.0,
        median(&mut theirs_cpu) / 1000.0,
        1.0 / median(&mut cpu_ratios.clone()),
    );
}
