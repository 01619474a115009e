//! Trust benchmark (issue 14, "Performance"): EigenTrust over 10,000 nodes and
//! 1,000,000 observations, and the incremental update after 1,000 new observations
//! (counted into the kept matrix, then a recomputation warm-started from the previous
//! scores), each next to a baseline in the same run: one sparse matrix-vector product
//! of the same size (`y = Cᵀ·x` over the same nonzeros, in f64).
//!
//! Both go through the matrix's cached normalisation as the state room does (the full
//! computation normalises every row; the update only the rows observed since).
//!
//! `cargo bench -p govmesh-core --bench trust` (sizes from `--nodes N` and
//! `--observations N`). Targets: full computation under 1 s, incremental update under
//! 50 ms.

use govmesh_core::trust::{self, Effect, LocalTrust, Normalized, TrustModel};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// A 64-bit LCG: the same matrix on every run.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

fn observe(m: &mut LocalTrust, rng: &mut Lcg, nodes: u64, count: u64) {
    let mut added = 0;
    while added < count {
        let i = (rng.next() % nodes) as u32;
        let j = (rng.next() % nodes) as u32;
        let effect = if rng.next().is_multiple_of(10) {
            Effect::Negative
        } else {
            Effect::Positive
        };
        if m.add(i, j, effect, 1_000_000 * (1 + rng.next() % 3)) {
            added += 1;
        }
    }
}

/// The baseline: one `y = Cᵀ·x` over the same nonzeros in f64 (median of `runs`).
fn spmv_baseline(c: &Normalized, runs: usize) -> Duration {
    let n = c.nodes();
    let rows: Vec<Vec<(u32, f64)>> = (0..n)
        .map(|i| {
            c.row(i)
                .map(|(j, v)| (j, v as f64 / trust::FRAC_ONE as f64))
                .collect()
        })
        .collect();
    let x = vec![1.0 / n as f64; n];
    let mut y = vec![0.0f64; n];
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            y.iter_mut().for_each(|v| *v = 0.0);
            for (i, row) in rows.iter().enumerate() {
                let xi = x[i];
                for (j, v) in row {
                    y[*j as usize] += xi * v;
                }
            }
            black_box(&y);
            t.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|s| s.parse().expect("a number"))
        .unwrap_or(default)
}

fn main() {
    let nodes = arg("--nodes", 10_000);
    let observations = arg("--observations", 1_000_000);
    let model = TrustModel::default();
    let pretrusted: Vec<u32> = (0..(nodes / 100).max(1) as u32).collect();
    println!(
        "trust benchmark: {nodes} nodes, {observations} observations, {} pre-trusted, alpha {}, epsilon {}, max {} iterations",
        pretrusted.len(),
        model.alpha,
        model.convergence_epsilon,
        model.max_iterations
    );
    let mut rng = Lcg(42);
    let mut m = LocalTrust::with_nodes(nodes as usize);
    let t = Instant::now();
    observe(&mut m, &mut rng, nodes, observations);
    println!(
        "  building the matrix (not timed below): {:.1} ms, {} observer/subject pairs",
        ms(t.elapsed()),
        m.pairs()
    );

    // Full computation: normalise + EigenTrust from p.
    let t = Instant::now();
    let c = m.normalized_cached();
    let full = trust::eigentrust(c, &pretrusted, model.params(), None);
    let full_time = t.elapsed();
    let base = spmv_baseline(&m.normalized(), 9);
    assert_eq!(full.scores.iter().sum::<u64>(), trust::ONE);
    println!(
        "full EigenTrust:       {:>9.2} ms ({} iterations, converged {})  baseline one SpMV {:>7.3} ms  ratio {:>6.1}x  target < 1000 ms: {}",
        ms(full_time),
        full.iterations,
        full.converged,
        ms(base),
        ms(full_time) / ms(base),
        if full_time < Duration::from_secs(1) {
            "met"
        } else {
            "MISSED"
        }
    );

    // Incremental: 1,000 new observations counted, then warm-started from the scores.
    let mut inc_times = Vec::new();
    let mut scores = full.scores;
    let mut last = None;
    for _ in 0..5 {
        let t = Instant::now();
        observe(&mut m, &mut rng, nodes, 1_000);
        let c = m.normalized_cached();
        let out = trust::eigentrust(c, &pretrusted, model.params(), Some(&scores));
        inc_times.push(t.elapsed());
        scores = out.scores.clone();
        last = Some(out);
    }
    inc_times.sort();
    let inc = inc_times[inc_times.len() / 2];
    let last = last.expect("ran");
    let base = spmv_baseline(&m.normalized(), 9);
    println!(
        "incremental (+1,000):  {:>9.2} ms ({} iterations, converged {})  baseline one SpMV {:>7.3} ms  ratio {:>6.1}x  target < 50 ms: {}",
        ms(inc),
        last.iterations,
        last.converged,
        ms(base),
        ms(inc) / ms(base),
        if inc < Duration::from_millis(50) {
            "met"
        } else {
            "MISSED"
        }
    );
}
