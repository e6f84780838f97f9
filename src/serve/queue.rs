//! The receiver's work queue: one entry per workload, however many webhooks point at it.
//! A workload is queued or being worked on, never both and never twice, so two webhooks for
//! one Canary never race, while workers take different workloads in parallel. Its length is
//! bounded (a webhook beyond it is answered 429), and a webhook for a workload being worked
//! on asks for one more look once that work is done, never more.

use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
};

use tokio::sync::Notify;

use crate::kube::workload::WorkloadRef;

/// Where a workload is.
enum Slot {
    Queued,
    /// Being worked on; `again`: a webhook came meanwhile.
    Running {
        again: bool,
    },
}

/// What became of an offered workload.
#[derive(Debug, PartialEq, Eq)]
pub enum Offer {
    Queued,
    /// Already queued or being worked on: this webhook adds nothing but, at most, one more
    /// look.
    Joined,
    /// The queue is full.
    Full,
}

pub struct Queue {
    bound: usize,
    inner: Mutex<Inner>,
    wake: Notify,
}

#[derive(Default)]
struct Inner {
    order: VecDeque<WorkloadRef>,
    slots: HashMap<WorkloadRef, Slot>,
    closed: bool,
}

impl Queue {
    /// A queue of at most `bound` waiting workloads.
    pub fn new(bound: usize) -> Queue {
        Queue {
            bound,
            inner: Mutex::default(),
            wake: Notify::new(),
        }
    }

    pub fn offer(&self, w: WorkloadRef) -> Offer {
        let mut q = self.inner.lock().expect("queue lock");
        let full = q.order.len() >= self.bound || q.closed;
        match q.slots.get_mut(&w) {
            Some(Slot::Queued) => Offer::Joined,
            Some(Slot::Running { again }) => {
                *again = true;
                Offer::Joined
            }
            None if full => Offer::Full,
            None => {
                q.slots.insert(w.clone(), Slot::Queued);
                q.order.push_back(w);
                drop(q);
                self.wake.notify_one();
                Offer::Queued
            }
        }
    }

    /// The next workload to work on; `None` once the queue is closed (what is still queued
    /// is left: the receiver looks at every workload again when it starts).
    pub async fn next(&self) -> Option<WorkloadRef> {
        loop {
            let woken = self.wake.notified();
            {
                let mut q = self.inner.lock().expect("queue lock");
                if q.closed {
                    return None;
                }
                if let Some(w) = q.order.pop_front() {
                    q.slots.insert(w.clone(), Slot::Running { again: false });
                    return Some(w);
                }
            }
            woken.await;
        }
    }

    /// Work on `w` is done; it is queued again if a webhook came meanwhile.
    pub fn done(&self, w: &WorkloadRef) {
        let mut q = self.inner.lock().expect("queue lock");
        if let Some(Slot::Running { again: true }) = q.slots.remove(w) {
            if !q.closed {
                q.slots.insert(w.clone(), Slot::Queued);
                q.order.push_back(w.clone());
                drop(q);
                self.wake.notify_one();
            }
        }
    }

    /// No more work is handed out; every waiting worker is told.
    pub fn close(&self) {
        self.inner.lock().expect("queue lock").closed = true;
        self.wake.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::revert::Controller;

    fn w(name: &str) -> WorkloadRef {
        WorkloadRef {
            controller: Controller::Flagger,
            namespace: "test".into(),
            name: name.into(),
        }
    }

    #[tokio::test]
    async fn ten_webhooks_for_one_workload_are_one_entry_and_at_most_one_more_look() {
        let q = Queue::new(4);
        assert_eq!(q.offer(w("a")), Offer::Queued);
        for _ in 0..9 {
            assert_eq!(q.offer(w("a")), Offer::Joined);
        }
        assert_eq!(q.next().await, Some(w("a")));
        // Webhooks while it is worked on: one more look, once.
        for _ in 0..10 {
            assert_eq!(q.offer(w("a")), Offer::Joined);
        }
        q.done(&w("a"));
        assert_eq!(q.next().await, Some(w("a")));
        q.done(&w("a"));
        q.close();
        assert_eq!(q.next().await, None);
    }

    #[tokio::test]
    async fn the_queue_is_bounded_and_two_workloads_are_two_entries() {
        let q = Queue::new(2);
        assert_eq!(q.offer(w("a")), Offer::Queued);
        assert_eq!(q.offer(w("b")), Offer::Queued);
        assert_eq!(q.offer(w("c")), Offer::Full);
        assert_eq!(q.next().await, Some(w("a")));
        assert_eq!(q.next().await, Some(w("b")));
    }
}
