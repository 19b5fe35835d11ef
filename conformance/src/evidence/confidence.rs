//! What a number of confirmed race windows lets one say, as klitmus7 does with its
//! histograms: "0 leaks in 20 confirmed windows: the leak rate is below 14% at 95%
//! confidence".
//!
//! The bound is the exact one-sided Clopper-Pearson upper limit: the largest rate `p` under
//! which seeing `k` or fewer events in `n` independent windows still has probability at least
//! `1 - level`. For `k = 0` it is `1 - (1 - level)^(1/n)`, which the rule of three
//! approximates as `3/n` at 95% (`-ln 0.05 = 2.996`).

use serde::{Deserialize, Serialize};

/// The confidence level of every bound reported.
pub const LEVEL: f64 = 0.95;

/// The rate bound the default `--attempts` must reach when every attempt confirms its window.
pub const TARGET_RATE: f64 = 0.15;

/// `P(X <= k)` for `X ~ Binomial(n, p)`, summed in log space (no underflow for large `n`).
pub fn binomial_cdf(k: u32, n: u32, p: f64) -> f64 {
    if k >= n || p <= 0.0 {
        return 1.0;
    }
    if p >= 1.0 {
        return 0.0;
    }
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    // ln C(n, i) built up term by term.
    let mut ln_choose = 0.0f64;
    let mut terms = Vec::with_capacity(k as usize + 1);
    for i in 0..=k {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        terms.push(ln_choose + i as f64 * lp + (n - i) as f64 * lq);
    }
    let max = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    (max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln())
        .exp()
        .min(1.0)
}

/// The exact one-sided upper confidence bound on the rate, after `k` events in `n` trials.
/// `n = 0` says nothing: the bound is 1.
pub fn upper_bound(k: u32, n: u32, level: f64) -> f64 {
    if n == 0 || k >= n {
        return 1.0;
    }
    let alpha = 1.0 - level;
    if k == 0 {
        return 1.0 - alpha.powf(1.0 / n as f64);
    }
    // binomial_cdf(k, n, p) falls as p grows: bisect for the p where it equals alpha.
    let (mut lo, mut hi) = (k as f64 / n as f64, 1.0);
    for _ in 0..100 {
        let mid = (lo + hi) / 2.0;
        if binomial_cdf(k, n, mid) > alpha {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// The fewest trials without an event that bound the rate by `rate` at `level`.
pub fn trials_for(rate: f64, level: f64) -> u32 {
    ((1.0 - level).ln() / (1.0 - rate).ln()).ceil() as u32
}

/// Default attempts at a race trace: enough that, with every window confirmed and no event,
/// the bound is at most [`TARGET_RATE`] at [`LEVEL`] (19).
pub fn default_attempts() -> u32 {
    trials_for(TARGET_RATE, LEVEL)
}

/// A rate as a percentage, rounded up (so the sentence never claims more than the maths).
fn percent_up(p: f64) -> String {
    let pc = p * 100.0;
    if pc >= 1.0 {
        format!("{}%", (pc - 1e-9).ceil() as u64)
    } else {
        format!("{:.1}%", (pc * 10.0 - 1e-9).ceil() / 10.0)
    }
}

/// The outcome of a race trace's attempts, with the sentence that says what it means.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Confidence {
    pub attempts: u32,
    /// Attempts whose race window the kernel's events confirm.
    pub windows_confirmed: u32,
    /// Confirmed windows in which the counted outcome happened.
    pub events: u32,
    /// Upper bound on the outcome's rate per confirmed window at [`LEVEL`].
    pub upper_bound: f64,
    pub sentence: String,
}

impl Confidence {
    /// `what`: the counted outcome, singular and plural (`("leak", "leaks")`).
    pub fn new(attempts: u32, confirmed: u32, events: u32, what: (&str, &str)) -> Confidence {
        let ub = upper_bound(events, confirmed, LEVEL);
        let noun = if events == 1 { what.0 } else { what.1 };
        let windows = if confirmed == 1 { "window" } else { "windows" };
        let sentence = if confirmed == 0 {
            format!(
                "no confirmed window in {attempts} attempts: nothing can be said about the {} rate",
                what.0
            )
        } else if events == confirmed {
            format!(
                "{events} {noun} in {confirmed} confirmed {windows}: the {} rate is above {} at {:.0}% confidence",
                what.0,
                percent_floor(lower_bound(events, confirmed, LEVEL)),
                LEVEL * 100.0
            )
        } else {
            format!(
                "{events} {noun} in {confirmed} confirmed {windows}: the {} rate is below {} at {:.0}% confidence",
                what.0,
                percent_up(ub),
                LEVEL * 100.0
            )
        };
        Confidence {
            attempts,
            windows_confirmed: confirmed,
            events,
            upper_bound: ub,
            sentence,
        }
    }
}

/// The exact one-sided lower bound: `1 - upper_bound(n - k, n)`.
pub fn lower_bound(k: u32, n: u32, level: f64) -> f64 {
    if n == 0 || k == 0 {
        return 0.0;
    }
    1.0 - upper_bound(n - k, n, level)
}

fn percent_floor(p: f64) -> String {
    let pc = p * 100.0;
    if pc >= 1.0 {
        format!("{}%", (pc + 1e-9).floor() as u64)
    } else {
        format!("{:.1}%", (pc * 10.0 + 1e-9).floor() / 10.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, eps: f64) {
        assert!((a - b).abs() < eps, "{a} vs {b}");
    }

    #[test]
    fn zero_events_is_one_minus_alpha_to_the_one_over_n() {
        // 1 - 0.05^(1/20) = 0.13911
        close(upper_bound(0, 20, 0.95), 0.139108, 1e-5);
        // Rule of three: 3/n is close for large n.
        close(upper_bound(0, 300, 0.95), 3.0 / 300.0, 2e-4);
    }

    #[test]
    fn matches_clopper_pearson_tables() {
        // Upper limits of the one-sided 95% Clopper-Pearson interval (beta quantiles
        // B(0.95; k+1, n-k)), e.g. R's binom.test(k, n, alternative = "less").
        close(upper_bound(1, 20, 0.95), 0.216_106, 1e-5);
        close(upper_bound(2, 20, 0.95), 0.282_619, 1e-5);
        close(upper_bound(5, 10, 0.95), 0.777_559, 1e-5);
        // At the bound, seeing k or fewer has probability exactly alpha.
        close(binomial_cdf(3, 40, upper_bound(3, 40, 0.95)), 0.05, 1e-9);
    }

    #[test]
    fn cdf_is_right_for_small_cases() {
        close(binomial_cdf(0, 3, 0.5), 0.125, 1e-12);
        close(binomial_cdf(1, 3, 0.5), 0.5, 1e-12);
        close(binomial_cdf(2, 3, 0.5), 0.875, 1e-12);
        close(
            binomial_cdf(0, 10_000, 0.001),
            (0.999f64).powi(10_000),
            1e-12,
        );
    }

    #[test]
    fn default_attempts_give_at_most_15_percent() {
        let n = default_attempts();
        assert_eq!(n, 19);
        assert!(upper_bound(0, n, LEVEL) <= TARGET_RATE);
        assert!(upper_bound(0, n - 1, LEVEL) > TARGET_RATE);
    }

    #[test]
    fn sentences() {
        assert_eq!(
            Confidence::new(20, 20, 0, ("leak", "leaks")).sentence,
            "0 leaks in 20 confirmed windows: the leak rate is below 14% at 95% confidence"
        );
        assert_eq!(
            Confidence::new(25, 20, 1, ("leak", "leaks")).sentence,
            "1 leak in 20 confirmed windows: the leak rate is below 22% at 95% confidence"
        );
        assert_eq!(
            Confidence::new(5, 0, 0, ("leak", "leaks")).sentence,
            "no confirmed window in 5 attempts: nothing can be said about the leak rate"
        );
        // Every window showed it: a lower bound, 0.05^(1/20) = 86.1%.
        assert_eq!(
            Confidence::new(20, 20, 20, ("leak", "leaks")).sentence,
            "20 leaks in 20 confirmed windows: the leak rate is above 86% at 95% confidence"
        );
    }
}
