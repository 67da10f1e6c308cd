//! The window build as the server runs it: the import file parsed, then
//! `categorize(&State)` over the state of a synchronized register whose
//! other side sent a new export, under the `partnersync` binary's
//! allocator (mimalloc). The engine bench (`benches/engine.rs`) times the
//! same steps under the system allocator, since its peak memory figures
//! need that allocator; this one prints the ratio as the server
//! sees it.
//!
//! `WINDOW_ROWS=1000000 cargo bench -p sync --bench window` (default 100k).

mod common;

use std::hint::black_box;
use std::time::Instant;

use sync::categorize::categorize;

use common::{new_csv, old_csv, parse, state_of};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let n: usize = std::env::var("WINDOW_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let new = new_csv(n);
    let state = state_of(parse(old_csv(n).as_bytes()), parse(new.as_bytes()));
    // The steps in turn, nine rounds (as the parse bench), the best of
    // each: a burst of other work on the shared machine then slows one
    // round, not one step. Each step is timed until its answer is made,
    // not while it is freed.
    let (mut t_parse, mut t_input, mut t_categorize) = (f64::MAX, f64::MAX, f64::MAX);
    let time = |t: &mut f64, start: Instant| *t = t.min(start.elapsed().as_secs_f64());
    for _ in 0..9 {
        let start = Instant::now();
        let records = black_box(parse(new.as_bytes()));
        time(&mut t_parse, start);
        drop(records);
        let start = Instant::now();
        let input = black_box(state.to_input());
        time(&mut t_input, start);
        drop(input);
        let start = Instant::now();
        let window = black_box(categorize(&state));
        time(&mut t_categorize, start);
        drop(window);
    }
    println!(
        "window build, {n} rows, the server's allocator (mimalloc), best of 9: parse {:.1} ms, \
         state.to_input {:.1} ms, categorize(&State) {:.1} ms (to_input included)",
        t_parse * 1e3,
        t_input * 1e3,
        t_categorize * 1e3
    );
    println!(
        "  ratio parse+categorize / parse {:.2}x (goal <= 2.5x)",
        (t_parse + t_categorize) / t_parse
    );
}
