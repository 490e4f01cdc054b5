//! Peak memory of a member joining a group of N.
//!
//! ```text
//! cargo run --release -p tessera-bench --example peak_mem -- <tessera|openmls|mls-rs> <N>
//! ```
//!
//! Two processes, so that building the group does not count towards the
//! joiner's peak: the parent re-runs this binary as a child (`--child LIB DIR`).
//! The child makes its client and KeyPackage, writes the KeyPackage to
//! DIR/kp.bin and says `KP`; the parent creates a group and adds N-2 other
//! members plus the child in one commit, writes the Welcome (ratchet tree
//! included) to DIR/welcome.bin and says `GO`; the child reads the Welcome,
//! joins, and reports its peak resident set size (`VmHWM` of
//! /proc/self/status) as one JSON line, with its RSS just before joining.
//!
//! Note that the peak includes the process baseline (binary, allocator, the
//! child's own KeyPackage) and the Welcome bytes it read.
//!
//! The child also counts its heap (a counting global allocator, in this
//! example only): the bytes live just before and just after the join, whose
//! difference is the joined member's state, and the peak of live bytes
//! during the join. RSS overstates the state (the allocator keeps pages
//! freed during the join); the live count does not.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use tessera_bench::{MlsHarness, proc_status_bytes};

/// The system allocator, counting the bytes live and their peak.
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicUsize, Ordering};

    pub static LIVE: AtomicUsize = AtomicUsize::new(0);
    pub static PEAK: AtomicUsize = AtomicUsize::new(0);

    pub struct Counting;

    fn grew(by: usize) {
        let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
        PEAK.fetch_max(now, Ordering::Relaxed);
    }

    // SAFETY: every call is forwarded to `System` with the same arguments;
    // the counters only observe sizes.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: forwarded unchanged (the caller upholds `alloc`'s contract).
            let p = unsafe { System.alloc(layout) };
            if !p.is_null() {
                grew(layout.size());
            }
            p
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: as `alloc`.
            let p = unsafe { System.alloc_zeroed(layout) };
            if !p.is_null() {
                grew(layout.size());
            }
            p
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: `ptr` came from this allocator (so from `System`) with `layout`.
            unsafe { System.dealloc(ptr, layout) };
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: forwarded unchanged.
            let p = unsafe { System.realloc(ptr, layout, new_size) };
            if !p.is_null() {
                LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
                grew(new_size);
            }
            p
        }
    }

    /// Bytes live now.
    pub fn live() -> usize {
        LIVE.load(Ordering::Relaxed)
    }

    /// Starts a new peak from the bytes live now.
    pub fn reset_peak() {
        PEAK.store(live(), Ordering::Relaxed);
    }

    /// The most bytes live since the last [`reset_peak`].
    pub fn peak() -> usize {
        PEAK.load(Ordering::Relaxed)
    }
}

#[global_allocator]
static ALLOC: counting::Counting = counting::Counting;

#[path = "../adapters/mls_rs.rs"]
mod mls_rs_adapter;
#[path = "../adapters/openmls.rs"]
mod openmls_adapter;
#[path = "../adapters/tessera.rs"]
mod tessera_adapter;

/// Runs `f` with the harness of library `lib`.
///
fn with_lib<F: LibFn>(lib: &str, f: F) -> F::Out {
    match lib {
        "openmls" => f.run::<openmls_adapter::OpenMls>(),
        "mls-rs" => f.run::<mls_rs_adapter::MlsRs>(),
        "tessera" => f.run::<tessera_adapter::Tessera>(),
        other => {
            eprintln!("unknown library {other:?}: expected tessera, openmls or mls-rs");
            std::process::exit(2)
        }
    }
}

/// A function generic over the harness (closures cannot be).
trait LibFn {
    type Out;
    fn run<H: MlsHarness>(self) -> Self::Out;
}

struct Parent {
    lib: String,
    n: usize,
}

impl LibFn for Parent {
    type Out = ();
    fn run<H: MlsHarness>(self) {
        let dir = scratch_dir(&self.lib, self.n);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let exe = std::env::current_exe().expect("current exe");
        let mut child = Command::new(exe)
            .arg("--child")
            .arg(&self.lib)
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn child");
        let mut child_out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut child_in = child.stdin.take().expect("stdin");
        let mut line = String::new();
        child_out.read_line(&mut line).expect("child says KP");
        assert_eq!(line.trim(), "KP", "child failed");

        let t = Instant::now();
        let mut kps: Vec<Vec<u8>> = (1..self.n - 1)
            .map(|i| H::new_joiner(&format!("member {i}")).1)
            .collect();
        kps.push(std::fs::read(dir.join("kp.bin")).expect("kp.bin"));
        let (_creator, _commit, welcome) = H::create_and_add(H::new_creator("member 0"), &kps);
        std::fs::write(dir.join("welcome.bin"), &welcome).expect("welcome.bin");
        eprintln!(
            "[{}] group of {} built in {:.1?}; Welcome {} bytes",
            H::NAME,
            self.n,
            t.elapsed(),
            welcome.len()
        );
        writeln!(child_in, "GO").expect("tell child");
        line.clear();
        child_out.read_line(&mut line).expect("child result");
        print!("{line}");
        let status = child.wait().expect("child exit");
        assert!(status.success(), "child failed");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

struct Child {
    dir: PathBuf,
}

impl LibFn for Child {
    type Out = ();
    fn run<H: MlsHarness>(self) {
        let (joiner, kp) = H::new_joiner("joiner");
        std::fs::write(self.dir.join("kp.bin"), &kp).expect("kp.bin");
        drop(kp);
        println!("KP");
        std::io::stdout().flush().expect("flush");
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).expect("wait for GO");
        assert_eq!(line.trim(), "GO");
        let welcome = std::fs::read(self.dir.join("welcome.bin")).expect("welcome.bin");
        let rss_before = proc_status_bytes("VmRSS").unwrap_or(0);
        let hwm_before = proc_status_bytes("VmHWM").unwrap_or(0);
        let heap_before = counting::live();
        counting::reset_peak();
        let t = Instant::now();
        let member = H::join(joiner, &welcome);
        let join_time = t.elapsed();
        let n = H::member_count(&member);
        let rss_after = proc_status_bytes("VmRSS").unwrap_or(0);
        let hwm = proc_status_bytes("VmHWM").unwrap_or(0);
        let heap_after = counting::live();
        let heap_peak = counting::peak();
        let state = heap_after.saturating_sub(heap_before);
        println!(
            "{{\"library\": \"{}\", \"n\": {n}, \"welcome_bytes\": {}, \"vm_hwm_bytes\": {hwm}, \
             \"vm_hwm_before_join_bytes\": {hwm_before}, \"vm_rss_before_join_bytes\": {rss_before}, \
             \"vm_rss_after_join_bytes\": {rss_after}, \"heap_live_before_join_bytes\": {heap_before}, \
             \"heap_live_after_join_bytes\": {heap_after}, \"heap_peak_during_join_bytes\": {heap_peak}, \
             \"state_bytes_per_leaf\": {:.0}, \"join_ms\": {:.1}}}",
            H::NAME,
            welcome.len(),
            state as f64 / n as f64,
            join_time.as_secs_f64() * 1e3
        );
        drop(member);
    }
}

fn scratch_dir(lib: &str, n: usize) -> PathBuf {
    std::env::temp_dir().join(format!("tessera-peak-mem-{lib}-{n}-{}", std::process::id()))
}

fn main() {
    // Same rule as the bench: rayon's global pool (used by openmls and mls-rs)
    // has TESSERA_BENCH_THREADS threads, default 1.
    let threads = std::env::var("TESSERA_BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .expect("rayon global pool");
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, lib, dir] if flag == "--child" => with_lib(
            lib,
            Child {
                dir: Path::new(dir).to_path_buf(),
            },
        ),
        [lib, n] => {
            let n: usize = n.parse().expect("N: an integer");
            assert!(n >= 2, "N >= 2");
            with_lib(
                lib,
                Parent {
                    lib: lib.clone(),
                    n,
                },
            )
        }
        _ => {
            eprintln!("usage: peak_mem <tessera|openmls|mls-rs> <N>");
            std::process::exit(2)
        }
    }
}
