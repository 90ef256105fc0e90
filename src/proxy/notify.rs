//! A core-local, re-armable wake-up: tasks of one connection wait for "something
//! changed" (the session state machine became readable again, its next timeout
//! moved) and are all woken by [`Notify::notify`]. Single-threaded; not `Send`.
//! Unlike [`super::trigger::Trigger`] it fires any number of times.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// The notifier.
#[derive(Default)]
pub struct Notify {
    generation: Cell<u64>,
    waiters: RefCell<Vec<Waker>>,
}

impl Notify {
    /// Wakes every waiter.
    pub fn notify(&self) {
        self.generation.set(self.generation.get() + 1);
        for w in std::mem::take(&mut *self.waiters.borrow_mut()) {
            w.wake();
        }
    }

    /// Resolves at the next [`Notify::notify`].
    pub fn changed(&self) -> Changed<'_> {
        Changed { notify: self, seen: self.generation.get() }
    }
}

/// Future returned by [`Notify::changed`].
pub struct Changed<'a> {
    notify: &'a Notify,
    seen: u64,
}

impl Future for Changed<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.notify.generation.get() != self.seen {
            return Poll::Ready(());
        }
        let mut waiters = self.notify.waiters.borrow_mut();
        if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
            waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    struct Nop;
    impl Wake for Nop {
        fn wake(self: Arc<Self>) {}
    }

    #[test]
    fn wakes_once_per_notify_and_rearms() {
        let n = Notify::default();
        let waker = Waker::from(Arc::new(Nop));
        let mut cx = Context::from_waker(&waker);
        let mut a = Box::pin(n.changed());
        assert_eq!(a.as_mut().poll(&mut cx), Poll::Pending);
        assert_eq!(a.as_mut().poll(&mut cx), Poll::Pending);
        assert_eq!(n.waiters.borrow().len(), 1, "one waker per task, however often polled");
        n.notify();
        assert_eq!(a.as_mut().poll(&mut cx), Poll::Ready(()));
        let mut b = Box::pin(n.changed());
        assert_eq!(b.as_mut().poll(&mut cx), Poll::Pending, "a new wait waits for the next notify");
        n.notify();
        assert_eq!(b.as_mut().poll(&mut cx), Poll::Ready(()));
    }
}
