//! `cargo xtask bench`: runs the benchmark suite and prints vc-api's figures as ratios to the
//! hand-written baselines, read from criterion's `estimates.json` files; and
//! `cargo xtask bench-build`: cold-builds two throwaway consumers (vc-api, and reqwest + serde
//! alone) and compares build time and crate count.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use serde_json::Value;

use crate::{nested_cargo, workspace_root};

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// The workspace's target directory, as cargo resolves it (`CARGO_TARGET_DIR` included).
fn target_dir() -> anyhow::Result<PathBuf> {
    let output = nested_cargo(&cargo())
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(workspace_root())
        .output()
        .context("cannot run cargo metadata")?;
    ensure!(output.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr));
    let metadata: Value = serde_json::from_slice(&output.stdout)?;
    let dir = metadata["target_directory"].as_str().context("no target_directory in cargo metadata")?;
    Ok(PathBuf::from(dir))
}

/// Runs `command`, echoing it; fails when it fails.
fn run(command: &mut Command) -> anyhow::Result<()> {
    println!("\n== {command:?}");
    let status = command.status().with_context(|| format!("cannot start {command:?}"))?;
    ensure!(status.success(), "{command:?} failed ({status})");
    Ok(())
}

/// One benchmark's estimate: median time per iteration and what one iteration processes.
struct Estimate {
    median_ns: f64,
    low_ns: f64,
    high_ns: f64,
    throughput: Option<(f64, &'static str)>,
}

impl Estimate {
    /// Units (bytes or elements) per second, from the median.
    fn per_second(&self) -> Option<f64> {
        self.throughput.map(|(units, _)| units * 1e9 / self.median_ns)
    }
}

/// The directory criterion keeps benchmark `id` (`group/function`) in: the group's `/` become
/// `_` there, so the id is matched with the `full_id` of each `new/benchmark.json`.
fn benchmark_dir(criterion: &Path, id: &str) -> anyhow::Result<PathBuf> {
    for group in
        std::fs::read_dir(criterion).with_context(|| format!("no {}: run the benchmarks", criterion.display()))?
    {
        let Ok(functions) = std::fs::read_dir(group?.path()) else { continue };
        for function in functions {
            let dir = function?.path().join("new");
            let Ok(text) = std::fs::read_to_string(dir.join("benchmark.json")) else { continue };
            let benchmark: Value = serde_json::from_str(&text)?;
            if benchmark["full_id"].as_str() == Some(id) {
                return Ok(dir);
            }
        }
    }
    bail!("no results for {id}: run the benchmark")
}

/// Reads `estimates.json` and `benchmark.json` of benchmark `id` from criterion's directory.
fn estimate(criterion: &Path, id: &str) -> anyhow::Result<Estimate> {
    let dir = benchmark_dir(criterion, id)?;
    let read = |name: &str| -> anyhow::Result<Value> {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("{} is missing: run the benchmark", path.display()))?;
        Ok(serde_json::from_str(&text)?)
    };
    let estimates = read("estimates.json")?;
    let benchmark = read("benchmark.json")?;
    let median = &estimates["median"];
    let number = |v: &Value| v.as_f64().context("estimate is not a number");
    let throughput = match &benchmark["throughput"] {
        Value::Object(map) => match (map.get("Bytes"), map.get("Elements")) {
            (Some(bytes), _) => Some((number(bytes)?, "B")),
            (_, Some(elements)) => Some((number(elements)?, "")),
            _ => None,
        },
        _ => None,
    };
    Ok(Estimate {
        median_ns: number(&median["point_estimate"])?,
        low_ns: number(&median["confidence_interval"]["lower_bound"])?,
        high_ns: number(&median["confidence_interval"]["upper_bound"])?,
        throughput,
    })
}

fn time(ns: f64) -> String {
    match ns {
        ns if ns >= 1e9 => format!("{:.2} s", ns / 1e9),
        ns if ns >= 1e6 => format!("{:.2} ms", ns / 1e6),
        ns if ns >= 1e3 => format!("{:.1} µs", ns / 1e3),
        ns => format!("{ns:.0} ns"),
    }
}

fn rate(estimate: &Estimate) -> String {
    match (estimate.per_second(), estimate.throughput) {
        (Some(per_second), Some((_, "B"))) => format!("{:.0} MiB/s", per_second / 1_048_576.0),
        (Some(per_second), _) => format!("{per_second:.0}/s"),
        _ => String::new(),
    }
}

/// A row comparing vc-api with its baseline.
struct Comparison {
    what: &'static str,
    ours: &'static str,
    theirs: &'static str,
    /// Time ratio (ours / theirs) when true, throughput ratio (ours / theirs) when false.
    by_time: bool,
    target: Option<f64>,
}

const COMPARISONS: &[Comparison] = &[
    Comparison {
        what: "1. per call, sequential",
        ours: "call_overhead/sequential/vc_api",
        theirs: "call_overhead/sequential/reqwest_serde",
        by_time: true,
        target: Some(1.05),
    },
    Comparison {
        what: "1. per call, 64 concurrent",
        ours: "call_overhead/concurrent_64/vc_api",
        theirs: "call_overhead/concurrent_64/reqwest_serde",
        by_time: true,
        target: Some(1.05),
    },
    Comparison {
        what: "1. per call, sequential (CPU time)",
        ours: "call_overhead_cpu/sequential/vc_api",
        theirs: "call_overhead_cpu/sequential/reqwest_serde",
        by_time: true,
        target: Some(1.05),
    },
    Comparison {
        what: "1. per call, 64 concurrent (CPU time)",
        ours: "call_overhead_cpu/concurrent_64/vc_api",
        theirs: "call_overhead_cpu/concurrent_64/reqwest_serde",
        by_time: true,
        target: Some(1.05),
    },
    Comparison {
        what: "2. decode 5,000 rooms",
        ours: "decode/room_list_5000/vc_api",
        theirs: "decode/room_list_5000/hand_written",
        by_time: false,
        target: Some(0.95),
    },
    Comparison {
        what: "2. decode, `data` before `code`",
        ours: "decode/room_list_5000/vc_api_data_before_code",
        theirs: "decode/room_list_5000/hand_written",
        by_time: false,
        target: None,
    },
    Comparison {
        what: "2. decode 5,000 rooms (CPU time)",
        ours: "decode_cpu/room_list_5000/vc_api",
        theirs: "decode_cpu/room_list_5000/hand_written",
        by_time: false,
        target: Some(0.95),
    },
    Comparison {
        what: "3. 1,000 calls, cold token cache",
        ours: "token_cache/1000_calls/vc_api_cold_token",
        theirs: "token_cache/1000_calls/reqwest_serde",
        by_time: false,
        target: None,
    },
    Comparison {
        what: "3. 1,000 calls, fixed token",
        ours: "token_cache/1000_calls/vc_api_fixed_token",
        theirs: "token_cache/1000_calls/reqwest_serde",
        by_time: false,
        target: None,
    },
    Comparison {
        what: "4. paginate 100,000 items",
        ours: "pagination/100000_items/vc_api",
        theirs: "pagination/100000_items/reqwest_serde",
        by_time: false,
        target: None,
    },
    Comparison {
        what: "4. paginate 100,000 items (CPU time)",
        ours: "pagination_cpu/100000_items/vc_api",
        theirs: "pagination_cpu/100000_items/reqwest_serde",
        by_time: false,
        target: None,
    },
    Comparison {
        what: "7. receiver, in-process event memory vs none",
        ours: "receiver/signed_event/local_memory",
        theirs: "receiver/signed_event/verify_and_dispatch",
        by_time: false,
        target: None,
    },
    Comparison {
        what: "7. receiver, Redis event memory vs none",
        ours: "receiver/signed_event/redis_memory",
        theirs: "receiver/signed_event/verify_and_dispatch",
        by_time: false,
        target: None,
    },
    Comparison {
        what: "7. receiver, Redis event memory vs in-process",
        ours: "receiver/signed_event/redis_memory",
        theirs: "receiver/signed_event/local_memory",
        by_time: false,
        target: None,
    },
    Comparison {
        what: "8. warm call, token through Redis vs in memory",
        ours: "shared_state/call/token_in_redis",
        theirs: "shared_state/call/token_in_memory",
        by_time: true,
        target: None,
    },
    Comparison {
        what: "8. first call of a client, token from Redis vs from the endpoint",
        ours: "shared_state/first_call/token_from_redis",
        theirs: "shared_state/first_call/token_from_endpoint",
        by_time: true,
        target: None,
    },
    Comparison {
        what: "8. rate-budget place, Redis vs in-process",
        ours: "shared_state/rate_budget/redis",
        theirs: "shared_state/rate_budget/local",
        by_time: true,
        target: None,
    },
];

/// Prints the table of ratios from the estimates criterion left in `<target>/criterion`.
fn print_report(target: &Path) -> anyhow::Result<()> {
    let criterion = target.join("criterion");
    println!("\n## vc-api against reqwest + serde by hand (medians of one run)\n");
    println!("| measure | vc-api | baseline | ratio | target |");
    println!("| --- | --- | --- | --- | --- |");
    let mut missed = Vec::new();
    for row in COMPARISONS {
        let (ours, theirs) = match (estimate(&criterion, row.ours), estimate(&criterion, row.theirs)) {
            (Ok(ours), Ok(theirs)) => (ours, theirs),
            (Err(e), _) | (_, Err(e)) => {
                println!("| {} | not run: {e} | | | |", row.what);
                continue;
            }
        };
        let cell = |e: &Estimate| {
            let interval = format!("{}–{}", time(e.low_ns), time(e.high_ns));
            match rate(e) {
                r if r.is_empty() => format!("{} ({interval})", time(e.median_ns)),
                r => format!("{} ({}; {interval})", r, time(e.median_ns)),
            }
        };
        let (ratio, kind) = if row.by_time {
            (ours.median_ns / theirs.median_ns, "time")
        } else {
            (theirs.median_ns / ours.median_ns, "throughput")
        };
        let target = match row.target {
            Some(t) if row.by_time => {
                if ratio > t {
                    missed.push(row.what);
                }
                format!("≤ {t:.2}x {}", if ratio <= t { "met" } else { "MISSED" })
            }
            Some(t) => {
                if ratio < t {
                    missed.push(row.what);
                }
                format!("≥ {t:.2}x {}", if ratio >= t { "met" } else { "MISSED" })
            }
            None => "report".to_owned(),
        };
        println!("| {} | {} | {} | {ratio:.3}x {kind} | {target} |", row.what, cell(&ours), cell(&theirs));
    }
    let summary = criterion.join("download_rss").join("summary.json");
    match std::fs::read_to_string(&summary).ok().and_then(|t| serde_json::from_str::<Value>(&t).ok()) {
        Some(s) => {
            let kib = |k: &str| s[k].as_f64().unwrap_or(f64::NAN);
            let peak = kib("vm_hwm_kib") / 1024.0;
            let limit = kib("limit_kib") / 1024.0;
            if peak >= limit {
                missed.push("5. 1 GiB download peak RSS");
            }
            println!(
                "| 5. 1 GiB download, peak RSS | {peak:.1} MiB (before: {:.1} MiB; {:.0} MiB/s) | | | < {limit:.0} MiB {} |",
                kib("vm_hwm_before_kib") / 1024.0,
                s["bytes"].as_f64().unwrap_or(f64::NAN) / 1_048_576.0 / s["seconds"].as_f64().unwrap_or(f64::NAN),
                if peak < limit { "met" } else { "MISSED" }
            );
        }
        None => println!("| 5. 1 GiB download, peak RSS | not run | | | |"),
    }
    if missed.is_empty() {
        println!("\nevery target met in this run");
    } else {
        println!("\ntargets missed in this run: {}", missed.join(", "));
    }
    Ok(())
}

/// `cargo xtask bench [--report-only | --callgrind] [criterion arguments]`.
pub fn bench_task(args: &[String]) -> anyhow::Result<()> {
    let target = target_dir()?;
    if args.iter().any(|a| a == "--callgrind") {
        return callgrind_task(&target);
    }
    let report_only = args.iter().any(|a| a == "--report-only");
    if !report_only {
        let extra: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut bench = nested_cargo(&cargo());
        bench.args(["bench", "--locked", "-p", "vc-api-benches", "--"]).args(&extra).current_dir(workspace_root());
        run(&mut bench)?;
        // Target 4's memory figure comes from its test (a counting allocator).
        let mut memory = nested_cargo(&cargo());
        memory
            .args(["test", "--locked", "-p", "vc-api-tests", "--test", "pagination_memory", "--", "--nocapture"])
            .current_dir(workspace_root());
        run(&mut memory)?;
    }
    print_report(&target)
}

/// Rounds of calls per callgrind run, by calls per round: enough that start-up is subtracted
/// away, few enough for valgrind's pace.
const CALLGRIND_ROUNDS: [(usize, usize); 2] = [(1, 200), (64, 50)];

/// `bench --callgrind`: exact user-space instructions per call (client and in-process server)
/// of vc-api and of the hand-written call, from `call_profile` under callgrind: a run of N
/// rounds minus a run of 0 rounds, divided by the calls. Needs `valgrind` on the `PATH`.
fn callgrind_task(target: &Path) -> anyhow::Result<()> {
    let mut build = nested_cargo(&cargo());
    build.args(["bench", "--locked", "-p", "vc-api-benches", "--bench", "call_profile", "--no-run"]);
    run(build.current_dir(workspace_root()))?;
    let deps = target.join("release").join("deps");
    let binary = std::fs::read_dir(&deps)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("call_profile-") && path.extension().is_none()
        })
        .max_by_key(|path| path.metadata().and_then(|m| m.modified()).ok())
        .context("no call_profile binary under target/release/deps")?;
    let out = target.join("callgrind");
    std::fs::create_dir_all(&out)?;
    println!("\n## Instructions per call (callgrind, {})\n", binary.display());
    println!("| calls at once | vc-api | by hand | ratio |\n| --- | --- | --- | --- |");
    for (width, rounds) in CALLGRIND_ROUNDS {
        let mut per_call = Vec::new();
        for who in ["vc", "baseline"] {
            let mut totals = Vec::new();
            for n in [0, rounds] {
                let file = out.join(format!("{who}-{width}-{n}.out"));
                let status = Command::new("valgrind")
                    .arg("--tool=callgrind")
                    .arg(format!("--callgrind-out-file={}", file.display()))
                    .arg(&binary)
                    .args([who, &width.to_string()])
                    .env("ROUNDS", n.to_string())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .context("cannot run valgrind (apt-get install valgrind)")?;
                ensure!(status.success(), "callgrind of {who} {width} failed ({status})");
                totals.push(callgrind_total(&file)?);
            }
            per_call.push((totals[1] - totals[0]) as f64 / (rounds * width) as f64);
        }
        println!("| {width} | {:.0} | {:.0} | {:.3}x |", per_call[0], per_call[1], per_call[0] / per_call[1]);
    }
    Ok(())
}

/// The total instruction count of a callgrind output file.
fn callgrind_total(file: &Path) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string(file)?;
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("summary:").or_else(|| l.strip_prefix("totals:")))
        .with_context(|| format!("no totals in {}", file.display()))?;
    Ok(line.split_whitespace().next().unwrap_or("").parse()?)
}

/// Crates that generate code from the spec: none may be in a consumer's build.
pub const CODEGEN_CRATES: &[&str] =
    &["progenitor", "progenitor-impl", "progenitor-macro", "typify", "typify-impl", "typify-macro", "openapiv3"];

/// A throwaway consumer crate: its name, manifest dependencies and `main.rs`.
struct Consumer {
    name: &'static str,
    dependencies: String,
    main: &'static str,
}

fn consumers(root: &Path) -> Vec<Consumer> {
    let tokio = r#"tokio = { version = "1", features = ["macros", "rt-multi-thread"] }"#;
    vec![
        Consumer {
            name: "vc-api-consumer",
            dependencies: format!("vc-api = {{ path = {:?} }}\n{tokio}\n", root.join("vc-api").display().to_string()),
            main: VC_API_MAIN,
        },
        Consumer {
            name: "reqwest-consumer",
            // The same reqwest and rustls features as vc-api with its default features.
            dependencies: format!(
                "reqwest = {{ version = \"0.13\", default-features = false, features = [\"json\", \"query\", \
                 \"stream\", \"http2\", \"charset\", \"rustls-no-provider\"] }}\n\
                 rustls = {{ version = \"0.23\", default-features = false, features = [\"aws_lc_rs\", \
                 \"prefer-post-quantum\", \"std\", \"tls12\", \"logging\"] }}\n\
                 serde = {{ version = \"1\", features = [\"derive\"] }}\nserde_json = \"1\"\n{tokio}\n"
            ),
            main: REQWEST_MAIN,
        },
    ]
}

/// The vc-api consumer with each TLS feature alone.
fn tls_consumers(root: &Path) -> Vec<Consumer> {
    let tokio = r#"tokio = { version = "1", features = ["macros", "rt-multi-thread"] }"#;
    let vc_api = root.join("vc-api").display().to_string();
    [("vc-api-rustls-ring", "rustls-ring"), ("vc-api-rustls-aws-lc-rs", "rustls-aws-lc-rs")]
        .into_iter()
        .map(|(name, feature)| Consumer {
            name,
            dependencies: format!(
                "vc-api = {{ path = {vc_api:?}, default-features = false, features = [\"{feature}\"] }}\n{tokio}\n"
            ),
            main: VC_API_MAIN,
        })
        .collect()
}

/// `bench-build --tls`: cold builds of the vc-api consumer with `rustls-ring` and with
/// `rustls-aws-lc-rs`, alternating, each time reported.
fn tls_build_comparison(root: &Path, base: &Path, runs: usize) -> anyhow::Result<()> {
    let consumers = tls_consumers(root);
    let ColdBuilds { times, compiled, .. } = alternate_cold_builds(root, base, &consumers, runs)?;
    println!("\n## Cold build of the vc-api consumer per TLS feature (debug, `cargo build --offline`, alternating)\n");
    println!("| TLS feature | runs | fastest | crates compiled |");
    println!("| --- | --- | --- | --- |");
    for (i, consumer) in consumers.iter().enumerate() {
        let runs: Vec<String> = times[i].iter().map(|t| format!("{t:.1} s")).collect();
        let fastest = times[i].iter().copied().fold(f64::INFINITY, f64::min);
        println!("| {} | {} | {fastest:.1} s | {} |", consumer.name, runs.join(", "), compiled[i]);
    }
    Ok(())
}

const VC_API_MAIN: &str = r#"#[tokio::main]
async fn main() {
    let url = std::env::args().nth(1).unwrap_or_else(|| "http://127.0.0.1:9".to_owned());
    let client = vc_api::Client::builder().base_url(url).access_token("t-token").build().expect("client");
    match client.room_level_get().room_level_id("0").data().await {
        Ok(data) => println!("{:?}", data.room_level.and_then(|level| level.name)),
        Err(error) => eprintln!("{error}"),
    }
}
"#;

const REQWEST_MAIN: &str = r#"#[derive(serde::Deserialize)]
struct Envelope<T> {
    code: i64,
    #[serde(default)]
    msg: String,
    data: Option<T>,
}

#[derive(serde::Deserialize)]
struct RoomLevelGetData {
    room_level: Option<RoomLevel>,
}

#[derive(serde::Deserialize)]
struct RoomLevel {
    name: Option<String>,
}

async fn room_level_get(url: &str) -> Result<RoomLevelGetData, Box<dyn std::error::Error>> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder().build()?;
    let body = http.get(format!("{url}/open-apis/vc/v1/room_levels/0")).bearer_auth("t-token").send().await?.bytes().await?;
    let envelope: Envelope<RoomLevelGetData> = serde_json::from_slice(&body)?;
    match envelope.data {
        Some(data) if envelope.code == 0 => Ok(data),
        _ => Err(format!("code {}: {}", envelope.code, envelope.msg).into()),
    }
}

#[tokio::main]
async fn main() {
    let url = std::env::args().nth(1).unwrap_or_else(|| "http://127.0.0.1:9".to_owned());
    match room_level_get(&url).await {
        Ok(data) => println!("{:?}", data.room_level.and_then(|level| level.name)),
        Err(error) => eprintln!("{error}"),
    }
}
"#;

/// Writes the consumer crate under `dir` with the workspace's lock file (same versions).
fn write_consumer(dir: &Path, consumer: &Consumer, root: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("src"))?;
    let manifest = format!(
        "[package]\nname = \"{}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\n{}\n# Not part of any enclosing workspace.\n[workspace]\n",
        consumer.name, consumer.dependencies
    );
    std::fs::write(dir.join("Cargo.toml"), manifest)?;
    std::fs::write(dir.join("src").join("main.rs"), consumer.main)?;
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock"))?;
    Ok(())
}

/// The output of a cargo command in `dir`, failing with its stderr.
fn cargo_output(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let output = nested_cargo(&cargo()).args(args).current_dir(dir).output()?;
    ensure!(output.status.success(), "cargo {} failed:\n{}", args.join(" "), String::from_utf8_lossy(&output.stderr));
    Ok(String::from_utf8(output.stdout)?)
}

/// The consumers' projects and `runs` cold builds of each, in `base/<name>`.
struct ColdBuilds {
    /// The project directory of each consumer.
    dirs: Vec<PathBuf>,
    /// Each consumer's build times, in seconds.
    times: Vec<Vec<f64>>,
    /// Crates each consumer's last build compiled.
    compiled: Vec<usize>,
}

/// Writes each consumer's project under `base`, resolves it (offline, from the workspace's lock)
/// before timing anything, then builds them cold `runs` times, alternating so that the
/// machine's load falls on all alike.
fn alternate_cold_builds(root: &Path, base: &Path, consumers: &[Consumer], runs: usize) -> anyhow::Result<ColdBuilds> {
    let mut dirs = Vec::new();
    for consumer in consumers {
        let dir = base.join(consumer.name);
        write_consumer(&dir, consumer, root)?;
        cargo_output(&dir, &["generate-lockfile", "--offline"]).map(|_| ())?;
        dirs.push(dir);
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); consumers.len()];
    let mut compiled = vec![0; consumers.len()];
    for run in 1..=runs {
        for (i, dir) in dirs.iter().enumerate() {
            println!("cold build {run}/{runs} of {} ...", consumers[i].name);
            let build = cold_build(dir)?;
            println!("  {:.1} s, {} crates compiled", build.seconds, build.compiled);
            times[i].push(build.seconds);
            compiled[i] = build.compiled;
        }
    }
    Ok(ColdBuilds { dirs, times, compiled })
}

/// One cold build: seconds, and the crates compiled.
struct ColdBuild {
    seconds: f64,
    compiled: usize,
}

fn cold_build(dir: &Path) -> anyhow::Result<ColdBuild> {
    let target = dir.join("target");
    if target.exists() {
        std::fs::remove_dir_all(&target)?;
    }
    let start = Instant::now();
    let output = nested_cargo(&cargo())
        .args(["build", "--offline"])
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO_BUILD_RUSTC_WRAPPER")
        .current_dir(dir)
        .output()?;
    let seconds = start.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(output.status.success(), "cold build in {} failed:\n{stderr}", dir.display());
    let compiled = stderr.lines().filter(|l| l.trim_start().starts_with("Compiling ")).count();
    Ok(ColdBuild { seconds, compiled })
}

/// The packages in the consumer's build (normal and build dependencies, itself included).
fn packages(dir: &Path) -> anyhow::Result<Vec<String>> {
    let tree = cargo_output(dir, &["tree", "--offline", "-e", "normal,build", "--prefix", "none", "--format", "{p}"])?;
    let mut names: Vec<String> =
        tree.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_owned).collect::<Vec<_>>();
    names.sort();
    names.dedup();
    Ok(names)
}

/// `cargo xtask bench-build [--runs N]`.
pub fn bench_build_task(args: &[String]) -> anyhow::Result<()> {
    let tls = args.iter().any(|a| a == "--tls");
    let args: Vec<&String> = args.iter().filter(|a| *a != "--tls").collect();
    let runs: usize = match args.as_slice() {
        [] => 1,
        [flag, n] if *flag == "--runs" => n.parse().context("--runs takes a number")?,
        _ => bail!("usage: cargo xtask bench-build [--tls] [--runs N]"),
    };
    let root = workspace_root();
    let base = target_dir()?.join("bench-build");
    if tls {
        return tls_build_comparison(&root, &base, runs);
    }
    let consumers = consumers(&root);
    let ColdBuilds { dirs, times, compiled } = alternate_cold_builds(&root, &base, &consumers, runs)?;
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let trees: Vec<Vec<String>> = dirs.iter().map(|d| packages(d)).collect::<anyhow::Result<_>>()?;

    println!("\n## Cold build of a minimal consumer (debug, `cargo build --offline`, {runs} run(s), median)\n");
    println!("| consumer | build time | crates compiled | packages in tree |");
    println!("| --- | --- | --- | --- |");
    for (i, consumer) in consumers.iter().enumerate() {
        println!("| {} | {:.1} s | {} | {} |", consumer.name, median(&times[i]), compiled[i], trees[i].len());
    }
    let ratio = median(&times[0]) / median(&times[1]);
    println!(
        "\nvc-api / reqwest + serde: {ratio:.2}x build time (target ≤ 1.20x: {}), {:+} crates",
        if ratio <= 1.2 { "met" } else { "MISSED" },
        compiled[0] as i64 - compiled[1] as i64
    );
    let extra: Vec<&String> = trees[0].iter().filter(|p| !trees[1].contains(p)).collect();
    println!(
        "packages only in the vc-api consumer: {}",
        extra.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
    );
    let codegen: Vec<&String> = trees[0].iter().filter(|p| CODEGEN_CRATES.contains(&p.as_str())).collect();
    ensure!(codegen.is_empty(), "code generators in the vc-api consumer's tree: {codegen:?}");
    println!("no code generator ({}) in the vc-api consumer's tree", CODEGEN_CRATES.join(", "));
    for (i, dir) in dirs.iter().enumerate() {
        let tree =
            cargo_output(dir, &["tree", "--offline", "-e", "normal,build", "--prefix", "none", "--format", "{p}"])?;
        let mut versions: Vec<&str> =
            tree.lines().filter_map(|l| l.strip_prefix("syn v")).filter_map(|v| v.split_whitespace().next()).collect();
        versions.sort();
        versions.dedup();
        if versions.is_empty() {
            println!("\nno syn in {}", consumers[i].name);
        }
        for version in versions {
            let spec = format!("syn@{version}");
            let users = cargo_output(dir, &["tree", "--offline", "-e", "normal,build", "-i", &spec, "--depth", "1"])?;
            println!("\nwho pulls syn {version} in {}:\n{}", consumers[i].name, users.trim_end());
        }
    }
    Ok(())
}
