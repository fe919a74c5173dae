//! Peak resident memory of a 1 GiB download: `export_download` then `Download::write_to` into
//! a sink, from a loopback server (in this process, on its own thread) that writes one 64 KiB
//! block again and again. Reads the process's high-water mark `VmHWM` from
//! `/proc/self/status` before and after; fails if the peak reaches 32 MiB. Writes the figures
//! to `<target>/criterion/download_rss/summary.json` for `cargo xtask bench`.
//! Run by `cargo bench`; without `--bench` (as `cargo test --benches` runs it) it downloads
//! 64 MiB only.

use std::time::Instant;

use vc_api_tests::loopback::{LoopbackServer, Reply, Request};

const GIB: u64 = 1024 * 1024 * 1024;
const LIMIT_KIB: u64 = 32 * 1024;
const BLOCK: usize = 64 * 1024;

/// `VmHWM` (peak resident set) of this process in KiB.
fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status is readable");
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM line");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("VmHWM in kB")
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let size = if full { GIB } else { 64 * 1024 * 1024 };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let block = bytes::Bytes::from(vec![7u8; BLOCK]);
    let server = LoopbackServer::start_on_thread(move |_: &Request<'_>| Reply::repeat(block.clone(), size), || {});
    let client = vc_api_benches::vc_api_client(server.url());

    let before = vm_hwm_kib();
    let start = Instant::now();
    let written = runtime.block_on(async {
        let download = client.export_download().file_token("big").data().await.expect("download starts");
        assert_eq!(download.content_length(), Some(size));
        download.write_to(&mut tokio::io::sink(), |_| {}).await.expect("download completes")
    });
    let seconds = start.elapsed().as_secs_f64();
    let peak = vm_hwm_kib();
    assert_eq!(written, size);

    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "download_rss: {} MiB in {seconds:.2} s ({:.0} MiB/s); peak RSS {:.1} MiB (before the download {:.1} MiB); limit {} MiB",
        size >> 20,
        (size >> 20) as f64 / seconds,
        mib(peak),
        mib(before),
        LIMIT_KIB >> 10
    );
    assert!(peak < LIMIT_KIB, "peak RSS {peak} KiB reached the {LIMIT_KIB} KiB limit");
    if full {
        let summary = serde_json::json!({
            "bytes": size, "seconds": seconds, "vm_hwm_kib": peak, "vm_hwm_before_kib": before, "limit_kib": LIMIT_KIB
        });
        // <target>/release/deps/download_rss-… -> <target>/criterion/download_rss/summary.json
        let exe = std::env::current_exe().expect("own path");
        let target = exe.ancestors().nth(3).expect("inside the target directory");
        let dir = target.join("criterion").join("download_rss");
        std::fs::create_dir_all(&dir).expect("creates the summary directory");
        std::fs::write(dir.join("summary.json"), summary.to_string()).expect("writes the summary");
    }
}
