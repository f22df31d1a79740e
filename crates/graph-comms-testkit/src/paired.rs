//! Paired ratios for benchmarks: the two sides of a ratio timed in alternating batches in the same
//! process, so that the load of a shared machine falls on both alike.
//!
//! A criterion median of each side, taken a few seconds apart, moves with whatever else the
//! machine runs; the ratio of two such medians moved by half between two runs of the same commit.
//! Here each batch times `numerator` then `denominator` (the order flipped every batch) over the
//! same number of iterations, and the figure is the median of the per-batch ratios, printed with
//! its spread (the 10th and 90th percentiles).

use std::time::{Duration, Instant};

/// A paired ratio: the median of per-batch ratios and its spread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairedRatio {
    /// The median of the per-batch ratios `numerator / denominator`.
    pub median: f64,
    /// The 10th percentile of the per-batch ratios.
    pub p10: f64,
    /// The 90th percentile of the per-batch ratios.
    pub p90: f64,
    /// How many batches were timed.
    pub batches: usize,
    /// Iterations of each side per batch.
    pub iterations: u64,
    /// The median time of one numerator iteration.
    pub numerator_ns: f64,
    /// The median time of one denominator iteration.
    pub denominator_ns: f64,
}

impl PairedRatio {
    /// The line a benchmark prints and `cargo xtask bench` reads back:
    /// `paired ratio <id>: 1.234× (p10 1.200×, p90 1.300×; …)`.
    pub fn line(&self, id: &str) -> String {
        format!(
            "paired ratio {id}: {:.3}× (p10 {:.3}×, p90 {:.3}×; {} batches × {} iterations; {:.0} ns / {:.0} ns)",
            self.median,
            self.p10,
            self.p90,
            self.batches,
            self.iterations,
            self.numerator_ns,
            self.denominator_ns
        )
    }
}

fn time(iterations: u64, f: &mut impl FnMut()) -> Duration {
    let started = Instant::now();
    for _ in 0..iterations {
        f();
    }
    started.elapsed()
}

/// The median and the 10th and 90th percentiles of a set of figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The median.
    pub median: f64,
    /// The 10th percentile.
    pub p10: f64,
    /// The 90th percentile.
    pub p90: f64,
}

/// The [`Spread`] of `values` (sorted in place), as a paired ratio reports its batches' ratios:
/// the figure at rank `(len - 1) × p`, rounded. NaN for no values.
pub fn spread(values: &mut [f64]) -> Spread {
    values.sort_by(f64::total_cmp);
    Spread {
        median: percentile(values, 0.5),
        p10: percentile(values, 0.1),
        p90: percentile(values, 0.9),
    }
}

/// The figure at rank `(len - 1) × p`, rounded, of `sorted` (ascending): the rank [`spread`]
/// uses. NaN for no values.
///
/// ```
/// let sorted = [1.0, 2.0, 3.0, 4.0];
/// assert_eq!(graph_comms_testkit::percentile(&sorted, 0.5), 3.0);
/// assert_eq!(graph_comms_testkit::percentile(&sorted, 0.99), 4.0);
/// assert!(graph_comms_testkit::percentile(&[], 0.5).is_nan());
/// ```
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return f64::NAN;
    };
    sorted[((last as f64 * p).round() as usize).min(last)]
}

/// Times `numerator` against `denominator` in `batches` alternating batches of about `batch`
/// each (for the slower side), after a short warm-up, and prints the result's [`line`] under `id`.
///
/// [`line`]: PairedRatio::line
pub fn paired_ratio(
    id: &str,
    batches: usize,
    batch: Duration,
    mut numerator: impl FnMut(),
    mut denominator: impl FnMut(),
) -> PairedRatio {
    let batches = batches.max(1);
    // Calibrate: the iteration count whose slower side takes about `batch`.
    let mut iterations = 1u64;
    loop {
        let slower = time(iterations, &mut numerator).max(time(iterations, &mut denominator));
        if slower >= batch / 4 || iterations >= 1 << 30 {
            let per = slower.as_secs_f64() / iterations as f64;
            iterations = ((batch.as_secs_f64() / per.max(1e-12)) as u64).max(1);
            break;
        }
        iterations *= 2;
    }
    let mut ratios = Vec::with_capacity(batches);
    let mut num_ns = Vec::with_capacity(batches);
    let mut den_ns = Vec::with_capacity(batches);
    for b in 0..batches {
        let (n, d) = if b % 2 == 0 {
            let n = time(iterations, &mut numerator);
            (n, time(iterations, &mut denominator))
        } else {
            let d = time(iterations, &mut denominator);
            (time(iterations, &mut numerator), d)
        };
        let (n, d) = (n.as_secs_f64(), d.as_secs_f64().max(1e-12));
        ratios.push(n / d);
        num_ns.push(n * 1e9 / iterations as f64);
        den_ns.push(d * 1e9 / iterations as f64);
    }
    let Spread { median, p10, p90 } = spread(&mut ratios);
    let result = PairedRatio {
        median,
        p10,
        p90,
        batches,
        iterations,
        numerator_ns: spread(&mut num_ns).median,
        denominator_ns: spread(&mut den_ns).median,
    };
    println!("{}", result.line(id));
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_alternate_and_the_summary_is_ordered() {
        let (mut n, mut d) = (0u32, 0u32);
        let r = paired_ratio(
            "test/pair",
            5,
            Duration::from_micros(200),
            || n += 1,
            || d += 1,
        );
        assert_eq!(r.batches, 5);
        assert!(r.iterations >= 1);
        // Both sides ran the same number of timed iterations after the same calibration.
        assert_eq!(n, d);
        assert!(r.p10 <= r.median && r.median <= r.p90, "{r:?}");
        assert!(r.line("x").starts_with("paired ratio x: "));
    }

    #[test]
    fn spread_reads_ranks_of_the_sorted_values() {
        let mut values: Vec<f64> = (0..11).rev().map(f64::from).collect();
        assert_eq!(
            spread(&mut values),
            Spread {
                median: 5.0,
                p10: 1.0,
                p90: 9.0
            }
        );
        assert_eq!(values[0], 0.0, "sorted in place");
        assert!(spread(&mut []).median.is_nan());
    }
}
