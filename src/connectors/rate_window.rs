//! Apps state their limits as "at most N requests in any T" (the demo app per fixed
//! window, HubSpot per rolling window). A token bucket cannot keep to that and use it:
//! a full bucket plus its refill overruns the window, a small one never fills it. The
//! send times of the last N requests can: a request leaves when fewer than N left in
//! the T before it, so bursts are free while the window has room and no window of
//! length T, fixed or rolling, ever holds more than N.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

pub struct RateWindow {
    max: usize,
    per: Duration,
    sent: Mutex<VecDeque<Instant>>,
}

impl RateWindow {
    pub fn new(max: u32, per: Duration) -> Self {
        RateWindow {
            max: max.max(1) as usize,
            per,
            sent: Mutex::new(VecDeque::new()),
        }
    }

    /// Counts a request leaving at `now`, or says how long until one may.
    fn admit(&self, now: Instant) -> Result<(), Duration> {
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        while sent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.per)
        {
            sent.pop_front();
        }
        match sent.front() {
            Some(oldest) if sent.len() >= self.max => {
                Err(self.per - now.saturating_duration_since(*oldest))
            }
            _ => {
                sent.push_back(now);
                Ok(())
            }
        }
    }

    /// Waits until a request may leave, and counts it.
    pub async fn until_ready(&self) {
        while let Err(wait) = self.admit(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_admits_its_limit_at_once_then_one_more_per_request_that_ages_out() {
        let w = RateWindow::new(3, Duration::from_secs(10));
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert_eq!(w.admit(at(0)), Ok(()));
        assert_eq!(w.admit(at(100)), Ok(()));
        assert_eq!(w.admit(at(200)), Ok(()));
        assert_eq!(w.admit(at(300)), Err(Duration::from_millis(9_700)));
        assert_eq!(w.admit(at(10_000)), Ok(()), "the first one aged out");
        assert_eq!(w.admit(at(10_050)), Err(Duration::from_millis(50)));
        assert_eq!(w.admit(at(10_100)), Ok(()));
    }

    #[test]
    fn no_span_of_the_window_ever_holds_more_than_the_limit() {
        let w = RateWindow::new(19, Duration::from_secs(1));
        let t0 = Instant::now();
        let mut sent = Vec::new();
        // Someone asking every 7 ms for 5 s: far more than the limit.
        for ms in (0..5_000).step_by(7) {
            let now = t0 + Duration::from_millis(ms);
            if w.admit(now).is_ok() {
                sent.push(now);
            }
        }
        for (i, start) in sent.iter().enumerate() {
            let held = sent[i..]
                .iter()
                .take_while(|t| t.duration_since(*start) < Duration::from_secs(1))
                .count();
            assert!(held <= 19, "{held} requests within 1 s of the {i}th");
        }
        assert!(
            sent.len() >= 19 * 5 - 19,
            "the window was used: {}",
            sent.len()
        );
    }
}
