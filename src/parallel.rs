//! A persistent worker pool for splitting a batch over cores.
//!
//! A [`Pool`] of `n` workers is worker 0 — the calling thread — plus `n − 1` helper threads, spawned once
//! by [`Pool::new`] and joined when the pool is dropped. Between jobs the helpers block on a condition
//! variable; [`Pool::for_each_mut`] wakes them, runs worker 0's share on the caller and returns when every
//! worker has finished. (Spawning threads per training step instead costs tens of µs to ~0.1 ms per
//! thread, a visible share of a sub-millisecond step.)
//!
//! # Contract
//! - `pool.for_each_mut(items, f)` calls `f(k, &mut items[k])` exactly once for every `k`; element `k`
//!   runs on worker `k mod n` (so with `items.len() ≤ n`, element `k` on worker `k`). It returns after
//!   the last call has returned. The `&mut` borrows are disjoint, so `f` needs no locking; read-only state
//!   is shared by capture (`f: Fn + Sync`).
//! - With one worker (or at most one element) nothing is woken: the elements run inline, in order.
//! - Nothing is allocated per call: the job is handed over by reference and the helpers wait on a
//!   Mutex/Condvar pair created once.
//! - Waiting spins first: a helper polls for the next job, and the caller for the helpers' completion,
//!   for up to [`SPIN`] before blocking on the condition variable. A training loop hands out a job every
//!   few hundred µs; waking a blocked thread costs tens of µs of scheduler latency per job, spinning a
//!   fraction of a µs. An idle pool blocks after [`SPIN`] and costs nothing.
//! - Which thread runs an element does not change its arithmetic: when `f(k, ·)` reads only its element
//!   and shared read-only data, the results are bit-identical for every worker count. Callers that reduce
//!   the elements afterwards do so in index order to stay deterministic.
//! - A panic in `f` on a helper is re-raised on the caller (after every worker has finished); a panic on
//!   the caller unwinds after the helpers have finished. The pool stays usable.
//! - `for_each_mut` takes `&mut self`: one job at a time per pool, and a job cannot start another job on
//!   its own pool (which would deadlock) — the borrow checker enforces both.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a waiting thread polls before it blocks (module doc).
pub const SPIN: Duration = Duration::from_micros(200);

/// Polls `done` (checking the clock every 64 polls) until it returns true or [`SPIN`] has passed;
/// returns whether it became true.
fn spin_until(done: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    loop {
        for _ in 0..64 {
            if done() {
                return true;
            }
            core::hint::spin_loop();
        }
        if start.elapsed() >= SPIN {
            return done();
        }
    }
}

/// A job handed to the helper threads: called with the worker index (1..n). Its lifetime is erased;
/// [`Pool::run`] does not return before every helper has finished with it.
#[derive(Clone, Copy)]
struct TaskPtr(*const (dyn Fn(usize) + Sync + 'static));
// safety: the pointee is `Sync` and outlives its use (Pool::run waits for every helper).
unsafe impl Send for TaskPtr {}

struct PoolState {
    generation: u64,
    task: Option<TaskPtr>,
    pending: usize,
    panicked: bool,
    shutdown: bool,
}

struct PoolShared {
    /// Mirrors of `state.generation` and `state.pending` (written under the lock, read while spinning).
    generation: AtomicU64,
    pending: AtomicUsize,
    state: Mutex<PoolState>,
    task_ready: Condvar,
    all_done: Condvar,
}

/// Persistent helper threads plus the caller (see the module doc for the contract).
pub struct Pool {
    shared: Arc<PoolShared>,
    handles: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("threads", &self.threads())
            .finish()
    }
}

/// A `*mut S` that may cross to the helpers (each index is touched by exactly one thread).
struct ItemsPtr<S>(*mut S);
// safety: see `Pool::for_each_mut` — disjoint indices per thread, and `S: Send`.
unsafe impl<S: Send> Sync for ItemsPtr<S> {}

impl Pool {
    /// A pool of `threads` workers: the caller plus `threads − 1` helper threads spawned now (`threads`
    /// of 0 is taken as 1; with 1 no thread is spawned and every job runs inline).
    pub fn new(threads: usize) -> Self {
        let helpers = threads.max(1) - 1;
        let shared = Arc::new(PoolShared {
            generation: AtomicU64::new(0),
            pending: AtomicUsize::new(0),
            state: Mutex::new(PoolState {
                generation: 0,
                task: None,
                pending: 0,
                panicked: false,
                shutdown: false,
            }),
            task_ready: Condvar::new(),
            all_done: Condvar::new(),
        });
        let handles = (1..=helpers)
            .map(|k| {
                let sh = Arc::clone(&shared);
                std::thread::spawn(move || Self::helper(&sh, k))
            })
            .collect();
        Pool { shared, handles }
    }

    /// Number of workers (the caller included).
    pub fn threads(&self) -> usize {
        self.handles.len() + 1
    }

    /// How many jobs this pool has handed to its helper threads so far (a job whose elements all ran
    /// inline — one worker, or at most one element — is not counted): the observable proof that work
    /// was split, e.g. for `monge map --threads N` to report the workers it really used.
    pub fn jobs(&self) -> u64 {
        self.shared.generation.load(Ordering::Acquire)
    }

    /// Calls `f(k, &mut items[k])` for every `k`, element `k` on worker `k mod threads` (worker 0 is the
    /// caller); returns when all calls have returned. See the module doc for the contract.
    pub fn for_each_mut<S, F>(&mut self, items: &mut [S], f: F)
    where
        S: Send,
        F: Fn(usize, &mut S) + Sync,
    {
        let n = self.threads();
        let len = items.len();
        if n == 1 || len <= 1 {
            for (k, s) in items.iter_mut().enumerate() {
                f(k, s);
            }
            return;
        }
        let base = ItemsPtr(items.as_mut_ptr());
        let (base, f) = (&base, &f);
        self.run(&move |w: usize| {
            let mut k = w;
            while k < len {
                // safety: k < len indexes `items`, and index k is visited only by worker k mod n (each
                // worker index runs on exactly one thread), so the &mut borrows are disjoint; `items`
                // stays mutably borrowed until `run` returns, after every worker has finished.
                let s = unsafe { &mut *base.0.add(k) };
                f(k, s);
                k += n;
            }
        });
    }

    fn helper(sh: &PoolShared, k: usize) {
        let mut seen = 0u64;
        loop {
            spin_until(|| sh.generation.load(Ordering::Acquire) != seen);
            let task = {
                let mut st = sh.state.lock().unwrap();
                while st.generation == seen && !st.shutdown {
                    st = sh.task_ready.wait(st).unwrap();
                }
                if st.shutdown {
                    return;
                }
                seen = st.generation;
                st.task.expect("pool: a new generation carries a task")
            };
            // safety: Pool::run keeps the closure alive until `pending` reaches 0 below.
            let f = unsafe { &*task.0 };
            let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(k))).is_ok();
            let mut st = sh.state.lock().unwrap();
            st.panicked |= !ok;
            st.pending -= 1;
            sh.pending.store(st.pending, Ordering::Release);
            if st.pending == 0 {
                sh.all_done.notify_one();
            }
        }
    }

    /// Runs `f(0)` on the caller and `f(1..threads)` on the helpers; returns when all are done.
    fn run(&mut self, f: &(dyn Fn(usize) + Sync)) {
        // safety: only the lifetime is erased; the guard below waits for every helper before this
        // function returns or unwinds, so no helper uses `f` afterwards.
        let task = TaskPtr(unsafe {
            core::mem::transmute::<
                *const (dyn Fn(usize) + Sync + '_),
                *const (dyn Fn(usize) + Sync + 'static),
            >(f)
        });
        {
            let mut st = self.shared.state.lock().unwrap();
            st.task = Some(task);
            st.pending = self.handles.len();
            st.panicked = false;
            st.generation += 1;
            self.shared.pending.store(st.pending, Ordering::Release);
            self.shared
                .generation
                .store(st.generation, Ordering::Release);
            self.shared.task_ready.notify_all();
        }
        struct Wait<'a>(&'a PoolShared);
        impl Drop for Wait<'_> {
            fn drop(&mut self) {
                spin_until(|| self.0.pending.load(Ordering::Acquire) == 0);
                let mut st = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
                while st.pending > 0 {
                    st = self.0.all_done.wait(st).unwrap_or_else(|e| e.into_inner());
                }
                st.task = None;
            }
        }
        let wait = Wait(&self.shared);
        f(0);
        drop(wait);
        // (the guard is released before panicking, so the mutex is not poisoned)
        let panicked = core::mem::take(&mut self.shared.state.lock().unwrap().panicked);
        if panicked {
            panic!("a pool worker thread panicked");
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if let Ok(mut st) = self.shared.state.lock() {
            st.shutdown = true;
        }
        self.shared.task_ready.notify_all();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}
