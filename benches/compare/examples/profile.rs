//! Runs one operation in a loop, for a profiler (`perf record`, callgrind).
//!
//! ```text
//! cargo build --release -p tessera-bench --example profile
//! perf record -g ./target/release/examples/profile tessera create-add 1000 5
//! ```
//!
//! Operations: `create-add` (create a group and add N-1 members, from
//! KeyPackages made beforehand), `join` (process the Welcome of that
//! commit), and in the fresh tree of the benchmarks: `encrypt`, `decrypt`
//! (1 KiB application messages), `update`, `update-process`, `remove`,
//! `remove-process`; `decrypt-all-sent` decrypts after every member has
//! sent one message (N joins of setup). Setup is done once before the loop, so with enough iterations
//! the operation dominates the profile. Prints the mean time per iteration,
//! wall-clock and on-CPU (summed over the process's threads from
//! `/proc/self/task/*/schedstat`, so that a loaded machine, where the wall
//! clock counts time spent waiting for a core, still gives comparable
//! numbers; run with `RAYON_NUM_THREADS=1` for one thread).

use std::time::Instant;

use tessera_bench::MlsHarness;

#[path = "../adapters/mls_rs.rs"]
mod mls_rs_adapter;
#[path = "../adapters/openmls.rs"]
mod openmls_adapter;
#[path = "../adapters/tessera.rs"]
mod tessera_adapter;

/// Nanoseconds this process's threads have spent on a CPU (Linux; 0 elsewhere).
fn cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Minor page faults of this process so far (Linux; 0 elsewhere).
fn minor_faults() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Field 10, counted after the command name's closing parenthesis.
            let rest = &s[s.rfind(')')? + 1..];
            rest.split_whitespace().nth(7)?.parse().ok()
        })
        .unwrap_or(0)
}

/// With `PERF_CTL_FIFO` set (the control FIFO of `perf record
/// --control=fifo:...` started with `-D -1`), sampling is switched on for
/// the timed loop only, so setup does not crowd the profile.
fn perf_ctl(cmd: &str) {
    if let Ok(path) = std::env::var("PERF_CTL_FIFO") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(path) {
            let _ = writeln!(f, "{cmd}");
        }
        // With `PERF_ACK_FIFO` (`--control=fifo:ctl,ack`), wait until perf
        // has switched, so that the samples cover exactly the timed code.
        if let Ok(ack) = std::env::var("PERF_ACK_FIFO") {
            use std::io::Read;
            if let Ok(mut f) = std::fs::File::open(ack) {
                let mut buf = [0u8; 5];
                let _ = f.read(&mut buf);
            }
        }
    }
}

fn run<H: MlsHarness>(op: &str, n: usize, iters: usize) {
    let creator = H::new_creator("member 0");
    let joiners: Vec<(H::Joiner, Vec<u8>)> = (1..n)
        .map(|i| H::new_joiner(&format!("member {i}")))
        .collect();
    let kps: Vec<Vec<u8>> = joiners.iter().map(|(_, kp)| kp.clone()).collect();
    let t = Instant::now();
    match op {
        "create-add" => {
            for _ in 0..iters {
                let (m, commit, welcome) = H::create_and_add(H::fork_creator(&creator), &kps);
                drop((m, commit, welcome));
            }
        }
        "join" => {
            let (_m, _commit, welcome) = H::create_and_add(H::fork_creator(&creator), &kps);
            let joiner = &joiners[n - 2].0;
            let t = Instant::now();
            for _ in 0..iters {
                drop(H::join(H::fork_joiner(joiner), &welcome));
            }
            println!(
                "{op} N={n}: {:.1} ms",
                t.elapsed().as_secs_f64() * 1e3 / iters as f64
            );
            return;
        }
        "encrypt"
        | "decrypt"
        | "decrypt-all-sent"
        | "update"
        | "update-process"
        | "remove"
        | "remove-process"
        | "update-populated"
        | "update-process-populated"
        | "remove-populated"
        | "remove-process-populated" => {
            let populated = op.ends_with("-populated");
            let all_sent = op.ends_with("-all-sent");
            let op = op
                .trim_end_matches("-populated")
                .trim_end_matches("-all-sent");
            let senders = if all_sent { n - 1 } else { 0 };
            let mut fx = tessera_bench::build_fixture::<H>(n, populated, senders);
            // With `PROFILE_BALLAST`, the peers' fixtures are built after this
            // one and kept alive, as in a benchmark run of the three libraries.
            let _ballast = std::env::var_os("PROFILE_BALLAST").map(|_| {
                (
                    tessera_bench::build_fixture::<openmls_adapter::OpenMls>(n, populated, senders),
                    tessera_bench::build_fixture::<mls_rs_adapter::MlsRs>(n, populated, senders),
                )
            });
            if let Some((roles, msgs)) = fx.populated.take() {
                fx.fresh = roles;
                fx.fresh_msgs = msgs;
            }
            if let Some((roles, _)) = fx.all_sent.take() {
                fx.fresh = roles;
            }
            let mut sender = H::fork_member(&fx.fresh.m0);
            let mut receiver = H::fork_member(&fx.fresh.m1);
            let msgs: Vec<Vec<u8>> = if op == "decrypt" {
                (0..iters)
                    .map(|_| H::encrypt(&mut sender, &tessera_bench::APP_PAYLOAD))
                    .collect()
            } else {
                Vec::new()
            };
            let mut outputs = Vec::with_capacity(iters);
            if std::env::var_os("PROFILE_FORK_EACH").is_some() && op != "encrypt" && op != "decrypt"
            {
                // As the benchmark does for N >= 1000 (`BatchSize::PerIteration`):
                // each iteration's member is forked (untimed) right before it runs.
                let base = match op {
                    "update" | "remove-process" => &fx.fresh.m1,
                    _ => &fx.fresh.m0,
                };
                let mut timed = std::time::Duration::ZERO;
                let mut faults = 0u64;
                let mut each = Vec::with_capacity(iters);
                for _ in 0..iters {
                    let mut m = H::fork_member(base);
                    perf_ctl("enable");
                    let f0 = minor_faults();
                    let t = Instant::now();
                    match op {
                        "update" => outputs.push(H::update(&mut m)),
                        "remove" => outputs.push(H::remove(&mut m, (n - 1) as u32)),
                        "update-process" => H::process_commit(&mut m, &fx.fresh_msgs.update_commit),
                        _ => H::process_commit(&mut m, &fx.fresh_msgs.remove_commit),
                    }
                    timed += t.elapsed();
                    each.push(t.elapsed().as_secs_f64() * 1e6);
                    faults += minor_faults() - f0;
                    perf_ctl("disable");
                    // Dropped right away, as criterion drops each output.
                    drop(m);
                    outputs.clear();
                }
                println!(
                    "{op} N={n}: {:.1} µs (forked before each; {:.1} page faults each)",
                    timed.as_secs_f64() * 1e6 / iters as f64,
                    faults as f64 / iters as f64
                );
                // The time series, in means over blocks of 20 iterations.
                let blocks: Vec<String> = each
                    .chunks(20)
                    .map(|c| format!("{:.0}", c.iter().sum::<f64>() / c.len() as f64))
                    .collect();
                println!("blocks of 20 (µs): {}", blocks.join(" "));
                return;
            }
            let mut forks: Vec<H::Member> = match op {
                "update" | "remove-process" => {
                    (0..iters).map(|_| H::fork_member(&fx.fresh.m1)).collect()
                }
                "update-process" | "remove" => {
                    (0..iters).map(|_| H::fork_member(&fx.fresh.m0)).collect()
                }
                _ => Vec::new(),
            };
            perf_ctl("enable");
            let t = Instant::now();
            let cpu = cpu_ns();
            match op {
                "encrypt" => {
                    for _ in 0..iters {
                        drop(H::encrypt(&mut sender, &tessera_bench::APP_PAYLOAD));
                    }
                }
                "decrypt" => {
                    for m in &msgs {
                        drop(H::decrypt(&mut receiver, m));
                    }
                }
                _ => {
                    // Dropped after the clock stops, as in the benchmark.
                    for m in &mut forks {
                        let m = &mut *m;
                        match op {
                            "update" => outputs.push(H::update(m)),
                            "remove" => outputs.push(H::remove(m, (n - 1) as u32)),
                            "update-process" => H::process_commit(m, &fx.fresh_msgs.update_commit),
                            _ => H::process_commit(m, &fx.fresh_msgs.remove_commit),
                        }
                    }
                }
            }
            let per = t.elapsed().as_secs_f64() * 1e6 / iters as f64;
            perf_ctl("disable");
            let per_cpu = (cpu_ns() - cpu) as f64 / 1e3 / iters as f64;
            println!("{op} N={n}: {per:.1} µs (on CPU: {per_cpu:.1} µs)");
            drop((forks, outputs));
            return;
        }
        other => panic!("unknown operation {other}"),
    }
    println!(
        "{op} N={n}: {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3 / iters as f64
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, lib, op, n, iters] = args.as_slice() else {
        eprintln!("usage: profile <tessera|openmls|mls-rs> <operation> <N> <iterations>");
        std::process::exit(2)
    };
    let n: usize = n.parse().expect("N");
    let iters: usize = iters.parse().expect("iterations");
    match lib.as_str() {
        "tessera" => run::<tessera_adapter::Tessera>(op, n, iters),
        "openmls" => run::<openmls_adapter::OpenMls>(op, n, iters),
        "mls-rs" => run::<mls_rs_adapter::MlsRs>(op, n, iters),
        other => panic!("unknown library {other}"),
    }
}
