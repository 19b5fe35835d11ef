//! Small helpers: results, timing, statistics, number formatting, the environment.

use std::io;
use std::time::Duration;

pub type Res<T> = Result<T, String>;

pub fn err(what: &str) -> impl Fn(io::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

pub fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Median, p90 and extremes of a sample, in µs.
#[derive(Clone, Copy, Debug)]
pub struct Stats {
    pub n: usize,
    pub min: f64,
    pub median: f64,
    pub p90: f64,
    pub max: f64,
}

impl Stats {
    pub fn of(samples: &[f64]) -> Option<Stats> {
        if samples.is_empty() {
            return None;
        }
        let mut v = samples.to_vec();
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        Some(Stats {
            n: v.len(),
            min: v[0],
            median: at(0.5),
            p90: at(0.9),
            max: v[v.len() - 1],
        })
    }

    pub fn median_of(samples: &[f64]) -> f64 {
        Stats::of(samples).map_or(f64::NAN, |s| s.median)
    }
}

/// A number of µs, with as many decimals as it deserves.
pub fn f(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else if x.abs() < 10.0 {
        format!("{x:.2}")
    } else if x.abs() < 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

pub fn load_line() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

pub fn env_u32(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `f` and says how long it took, in us.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = std::time::Instant::now();
    let r = f();
    (r, us(t.elapsed()))
}
