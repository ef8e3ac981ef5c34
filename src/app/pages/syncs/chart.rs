//! The small "last 24 hours" chart of a sync: records synced and failed per hour, as
//! stacked bars in inline SVG (no chart library). The geometry is a pure function, so
//! it is tested without a browser.

use crate::model::HourPoint;
use leptos::prelude::*;

/// One hour's bar: synced at the bottom, failed stacked on top.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub x: f64,
    pub width: f64,
    /// Top of the synced part and its height.
    pub synced_y: f64,
    pub synced_h: f64,
    /// Top of the failed part and its height.
    pub failed_y: f64,
    pub failed_h: f64,
    pub title: String,
}

/// A round number at or above `n` (1, 2, 5 × 10^k), so the scale reads well.
pub fn nice_max(n: i64) -> i64 {
    if n <= 1 {
        return 1;
    }
    let mut step = 1i64;
    loop {
        for m in [1, 2, 5] {
            if let Some(v) = step.checked_mul(m) {
                if v >= n {
                    return v;
                }
            } else {
                return n;
            }
        }
        match step.checked_mul(10) {
            Some(s) => step = s,
            None => return n,
        }
    }
}

/// Bars for `points` in a `width` × `height` box; a bar of a non-empty hour is at least
/// one pixel high, so a single failure among thousands still shows.
pub fn bars(points: &[HourPoint], width: f64, height: f64) -> (Vec<Bar>, i64) {
    if points.is_empty() {
        return (vec![], 1);
    }
    let max = nice_max(
        points
            .iter()
            .map(|p| p.synced.max(0) + p.failed.max(0))
            .max()
            .unwrap_or(0),
    );
    let slot = width / points.len() as f64;
    let gap = (slot * 0.2).min(2.0);
    let scale = |n: i64| {
        if n <= 0 {
            0.0
        } else {
            (n as f64 / max as f64 * height).max(1.0)
        }
    };
    let bars = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let synced_h = scale(p.synced);
            let failed_h =
                scale(p.failed)
                    .min(height - synced_h)
                    .max(if p.failed > 0 { 1.0 } else { 0.0 });
            let synced_y = height - synced_h;
            Bar {
                x: i as f64 * slot + gap / 2.0,
                width: (slot - gap).max(0.5),
                synced_y,
                synced_h,
                failed_y: (synced_y - failed_h).max(0.0),
                failed_h,
                title: format!(
                    "{} UTC: {} synced, {} failed",
                    p.hour.format("%H:00"),
                    p.synced,
                    p.failed
                ),
            }
        })
        .collect();
    (bars, max)
}

/// The chart itself, with a readable summary for screen readers.
#[component]
pub fn HourChart(points: Vec<HourPoint>) -> impl IntoView {
    const W: f64 = 144.0;
    const H: f64 = 32.0;
    let synced: i64 = points.iter().map(|p| p.synced).sum();
    let failed: i64 = points.iter().map(|p| p.failed).sum();
    let summary = format!("Last 24 hours: {synced} synced, {failed} failed");
    let (bars, max) = bars(&points, W, H);
    view! {
        <figure class="hour-chart" data-testid="hour-chart">
            <svg viewBox=format!("0 0 {W} {H}") width=W height=H role="img" aria-label=summary.clone()>
                <title>{summary.clone()}</title>
                <line x1="0" y1=H x2=W y2=H class="axis"/>
                {bars.into_iter().map(|b| view! {
                    <g>
                        <title>{b.title}</title>
                        <rect class="synced" x=b.x y=b.synced_y width=b.width height=b.synced_h/>
                        <rect class="failed" x=b.x y=b.failed_y width=b.width height=b.failed_h/>
                    </g>
                }).collect_view()}
            </svg>
            <figcaption class="small muted">{format!("{synced} synced · {failed} failed · 24 h (scale {max}/h)")}</figcaption>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn point(h: u32, synced: i64, failed: i64) -> HourPoint {
        HourPoint {
            hour: Utc.with_ymd_and_hms(2026, 1, 1, h, 0, 0).unwrap(),
            synced,
            failed,
        }
    }

    #[test]
    fn scale_tops_are_round_numbers() {
        assert_eq!(nice_max(0), 1);
        assert_eq!(nice_max(1), 1);
        assert_eq!(nice_max(3), 5);
        assert_eq!(nice_max(7), 10);
        assert_eq!(nice_max(10), 10);
        assert_eq!(nice_max(11), 20);
        assert_eq!(nice_max(1234), 2000);
        assert_eq!(nice_max(999_999), 1_000_000);
        assert_eq!(nice_max(i64::MAX), i64::MAX);
    }

    #[test]
    fn bars_fill_the_box_and_stack_failures_on_top() {
        let points: Vec<HourPoint> = (0..24)
            .map(|h| {
                point(
                    h,
                    if h == 23 { 80 } else { 0 },
                    if h == 23 { 20 } else { 0 },
                )
            })
            .collect();
        let (bars, max) = bars(&points, 240.0, 50.0);
        assert_eq!(max, 100);
        assert_eq!(bars.len(), 24);
        let last = &bars[23];
        assert!((last.synced_h - 40.0).abs() < 1e-9);
        assert!((last.failed_h - 10.0).abs() < 1e-9);
        assert!((last.synced_y - 10.0).abs() < 1e-9);
        assert!(
            (last.failed_y - 0.0).abs() < 1e-9,
            "the tallest bar reaches the top"
        );
        assert!(last.x + last.width <= 240.0);
        assert_eq!(bars[0].synced_h, 0.0);
        assert_eq!(bars[0].failed_h, 0.0);
        assert!(last.title.contains("23:00 UTC: 80 synced, 20 failed"));
    }

    #[test]
    fn one_failure_among_many_is_still_visible() {
        let points = vec![point(0, 1_000_000, 1), point(1, 0, 0)];
        let (bars, _) = bars(&points, 100.0, 30.0);
        assert!(bars[0].failed_h >= 1.0);
        assert!(bars[0].failed_y >= 0.0);
        assert!(bars[0].synced_h + bars[0].failed_h <= 30.0 + 1e-9);
    }

    #[test]
    fn no_points_no_bars() {
        let (bars, max) = bars(&[], 100.0, 30.0);
        assert!(bars.is_empty());
        assert_eq!(max, 1);
    }
}
