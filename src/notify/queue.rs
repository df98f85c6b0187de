//! A webhook's queue: bounded, and never a wait for who pushes. When it is full the oldest
//! event goes (the newest say the most about the state now) and the caller counts it.

use crate::events::Event;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Events waiting for delivery, at most `cap`.
#[derive(Debug)]
pub struct Queue {
    items: Mutex<VecDeque<Arc<Event>>>,
    cap: AtomicUsize,
    ready: tokio::sync::Notify,
}

impl Queue {
    /// An empty queue of at most `cap` events (at least 1).
    pub fn new(cap: usize) -> Queue {
        Queue {
            items: Mutex::new(VecDeque::new()),
            cap: AtomicUsize::new(cap.max(1)),
            ready: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Arc<Event>>> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Add `event` at the end; returns how many of the oldest were dropped to make room.
    pub fn push(&self, event: Arc<Event>) -> usize {
        let cap = self.cap.load(Ordering::Relaxed);
        let dropped = {
            let mut q = self.lock();
            q.push_back(event);
            let over = q.len().saturating_sub(cap);
            q.drain(..over);
            over
        };
        self.ready.notify_one();
        dropped
    }

    /// Change the bound; returns how many of the oldest were dropped to fit it.
    pub fn set_cap(&self, cap: usize) -> usize {
        let cap = cap.max(1);
        self.cap.store(cap, Ordering::Relaxed);
        let mut q = self.lock();
        let over = q.len().saturating_sub(cap);
        q.drain(..over);
        over
    }

    /// The oldest event, waiting for one when empty.
    pub async fn pop(&self) -> Arc<Event> {
        loop {
            if let Some(e) = self.lock().pop_front() {
                return e;
            }
            // A push between the check and here leaves a permit: no wake-up is lost.
            self.ready.notified().await;
        }
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventKind;

    fn ev(n: u32) -> Arc<Event> {
        Arc::new(Event::new(EventKind::ReloadSucceeded).detail(n.to_string()))
    }

    #[tokio::test]
    async fn a_full_queue_drops_its_oldest_and_says_how_many() {
        let q = Queue::new(3);
        let dropped: usize = (1..=5).map(|n| q.push(ev(n))).sum();
        assert_eq!(dropped, 2);
        assert_eq!(q.len(), 3);
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(q.pop().await.detail.clone());
        }
        assert_eq!(got, ["3", "4", "5"]);
        assert_eq!(q.len(), 0);
        for n in 1..=3 {
            q.push(ev(n));
        }
        assert_eq!(q.set_cap(1), 2, "shrinking drops the oldest");
        assert_eq!(q.pop().await.detail, "3");
    }

    #[tokio::test]
    async fn pop_waits_for_a_push() {
        let q = Arc::new(Queue::new(10));
        let q2 = q.clone();
        let waiter = tokio::spawn(async move { q2.pop().await });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        q.push(ev(7));
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .unwrap();
        assert_eq!(got.detail, "7");
    }
}
