//! The worker pool's contract (src/parallel.rs): every element exactly once with its index, on worker
//! `k mod n`, for any element count; panics re-raised on the caller; the pool reusable afterwards.

use monge::parallel::Pool;
use std::thread::ThreadId;

#[test]
fn pool_visits_every_element_once_with_its_index() {
    for threads in [0usize, 1, 2, 3] {
        let mut pool = Pool::new(threads);
        assert_eq!(pool.threads(), threads.max(1));
        for len in [0usize, 1, 2, 3, 5, 17] {
            // repeated jobs on the same pool
            for round in 0..3 {
                let mut items: Vec<(usize, usize)> = vec![(usize::MAX, 0); len];
                pool.for_each_mut(&mut items, |k, it| {
                    it.0 = k;
                    it.1 += 1 + round;
                });
                for (k, it) in items.iter().enumerate() {
                    assert_eq!(*it, (k, 1 + round), "threads {threads}, len {len}");
                }
            }
        }
    }
}

#[test]
fn pool_runs_element_k_on_worker_k_mod_n() {
    let mut pool = Pool::new(2);
    let caller = std::thread::current().id();
    let mut ids: Vec<Option<ThreadId>> = vec![None; 6];
    pool.for_each_mut(&mut ids, |_, id| *id = Some(std::thread::current().id()));
    let ids: Vec<ThreadId> = ids.into_iter().map(Option::unwrap).collect();
    for k in 0..ids.len() {
        assert_eq!(ids[k] == caller, k % 2 == 0, "element {k}");
        assert_eq!(ids[k], ids[k % 2], "element {k}");
    }
    // one worker: everything inline on the caller
    let mut pool = Pool::new(1);
    let mut ids: Vec<Option<ThreadId>> = vec![None; 3];
    pool.for_each_mut(&mut ids, |_, id| *id = Some(std::thread::current().id()));
    assert!(ids.iter().all(|id| *id == Some(caller)));
}

#[test]
fn pool_reraises_a_worker_panic_and_stays_usable() {
    let mut pool = Pool::new(2);
    for bad in [0usize, 1] {
        let mut items = vec![0u32; 2];
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.for_each_mut(&mut items, |k, _| {
                if k == bad {
                    panic!("element {k} fails on purpose");
                }
            })
        }));
        assert!(r.is_err(), "panic on element {bad} must reach the caller");
        let mut items = vec![0u32; 4];
        pool.for_each_mut(&mut items, |k, v| *v = k as u32 * 10);
        assert_eq!(items, [0, 10, 20, 30]);
    }
}
