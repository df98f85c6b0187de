//! Delivery: one task per webhook takes its queue in order, POSTs each event (signed), and
//! retries a failed attempt after an exponential backoff, up to `max_attempts`; then the event
//! is dropped and counted. Waits pace on real time (like probe intervals); timestamps in the
//! status come from the server's clock.

use super::Webhook;
use crate::api::notify::{DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER};
use crate::clock::Clock;
use crate::events::Event;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The longest error text kept for the status.
const MAX_ERROR: usize = 300;

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`: the `X-Ayadns-Signature`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The wait after the `failed`-th failed attempt (1-based): `first`, doubling each time, at
/// most `max`.
pub fn backoff(failed: u32, first: Duration, max: Duration) -> Duration {
    let doublings = failed.saturating_sub(1).min(30);
    first.saturating_mul(1 << doublings).min(max)
}

/// Deliver `hook`'s events until it is stopped.
pub async fn run(hook: Arc<Webhook>, client: reqwest::Client, clock: Clock) {
    loop {
        let event = tokio::select! {
            e = hook.queue.pop() => e,
            _ = hook.stop.cancelled() => return,
        };
        hook.stats.in_flight.store(true, Ordering::Relaxed);
        let delivered = tokio::select! {
            d = deliver(&hook, &client, &clock, &event) => d,
            _ = hook.stop.cancelled() => return,
        };
        hook.stats.in_flight.store(false, Ordering::Relaxed);
        if !delivered {
            hook.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Try `event` until it is delivered (`true`) or every attempt failed.
async fn deliver(hook: &Webhook, client: &reqwest::Client, clock: &Clock, event: &Event) -> bool {
    let body = match serde_json::to_vec(event) {
        Ok(b) => b,
        Err(e) => {
            hook.stats
                .failed(format!("the event could not be encoded: {e}"));
            return false;
        }
    };
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        // Settings may change on reload between attempts.
        let s = hook.settings.load_full();
        let mut req = client
            .post(&s.url)
            .timeout(s.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(EVENT_HEADER, event.kind.name())
            .header(DELIVERY_HEADER, &event.id)
            .body(body.clone());
        if let Some(secret) = &s.secret {
            req = req.header(SIGNATURE_HEADER, signature(secret, &body));
        }
        let outcome = match req.send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("answered {}", r.status())),
            Err(e) if e.is_timeout() => Err(format!("no answer within {:?}", s.timeout)),
            Err(e) => Err(error_text(&e)),
        };
        match outcome {
            Ok(()) => {
                hook.stats.delivered(clock.now());
                return true;
            }
            Err(why) => {
                let why = format!("{} (attempt {attempt} of {})", why, s.max_attempts);
                tracing::debug!(webhook = %s.name, event = %event.id, error = %why, "webhook delivery failed");
                hook.stats.failed(why.clone());
                if attempt >= s.max_attempts {
                    tracing::warn!(webhook = %s.name, event = %event.id, kind = event.kind.name(), error = %why, "webhook delivery given up");
                    return false;
                }
                tokio::time::sleep(backoff(attempt, s.backoff, s.backoff_max)).await;
            }
        }
    }
}

/// An error with its causes, capped.
fn error_text(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(c) = source {
        s.push_str(": ");
        s.push_str(&c.to_string());
        source = c.source();
    }
    if s.len() > MAX_ERROR {
        let mut end = MAX_ERROR;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_first_wait_up_to_the_bound() {
        let (first, max) = (Duration::from_millis(100), Duration::from_secs(1));
        let waits: Vec<u128> = (1..=6)
            .map(|n| backoff(n, first, max).as_millis())
            .collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
        // Huge attempt counts neither overflow nor pass the bound.
        assert_eq!(
            backoff(
                u32::MAX,
                Duration::from_secs(600),
                Duration::from_secs(3600)
            ),
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn the_signature_is_the_hmac_sha256_of_the_body() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
