//! A one-shot, core-local broadcast: once fired, every waiter (now or later) wakes.
//!
//! Used for "this listener closes" and "its connections end" (`listeners.rs`; a
//! core's shutdown fires both for every listener). Single-threaded (`Rc`, `Cell`); not `Send`.
//! A waiter that goes away unregisters itself, so long-lived cores do not collect
//! stale wakers of connections that ended.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// The trigger.
#[derive(Default)]
pub struct Trigger {
    fired: Cell<bool>,
    next_id: Cell<u64>,
    waiters: RefCell<HashMap<u64, Waker>>,
}

impl Trigger {
    /// Fires it, waking every waiter.
    pub fn fire(&self) {
        self.fired.set(true);
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        for (_, w) in waiters {
            w.wake();
        }
    }

    /// True once fired.
    pub fn is_fired(&self) -> bool {
        self.fired.get()
    }

    /// Resolves when fired.
    pub fn wait(&self) -> Wait<'_> {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        Wait { trigger: self, id }
    }

    /// Number of registered waiters.
    #[cfg(test)]
    pub fn waiters(&self) -> usize {
        self.waiters.borrow().len()
    }
}

/// Future returned by [`Trigger::wait`].
pub struct Wait<'a> {
    trigger: &'a Trigger,
    id: u64,
}

impl Future for Wait<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.trigger.fired.get() {
            return Poll::Ready(());
        }
        self.trigger.waiters.borrow_mut().insert(self.id, cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        self.trigger.waiters.borrow_mut().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn dropped_waiters_unregister_and_fire_wakes() {
        let t = Trigger::default();
        let mut cx = Context::from_waker(Waker::noop());
        {
            let mut w = Box::pin(t.wait());
            assert_eq!(w.as_mut().poll(&mut cx), Poll::Pending);
            assert_eq!(t.waiters(), 1);
        }
        assert_eq!(t.waiters(), 0);
        let mut w = Box::pin(t.wait());
        assert_eq!(w.as_mut().poll(&mut cx), Poll::Pending);
        t.fire();
        assert_eq!(w.as_mut().poll(&mut cx), Poll::Ready(()));
        assert!(t.is_fired());
    }
}
