//! SIGINT / SIGTERM: what monge does when the user stops it.
//!
//! Two modes, chosen by the code that is running:
//! - **Immediate** (the default, e.g. `monge map`, `monge synth`): the handler removes every temp file
//!   that [`crate::io::write_atomic`] has registered (so no hidden `.name.pid.n.tmp` is left behind) and
//!   ends the process with `_exit(128 + signal)`. Final files are untouched: a rename either happened
//!   before the signal or does not happen.
//! - **Deferred** (training loops, inside a [`Deferral`]): the handler only records the signal. The
//!   loop polls [`interrupted`] at an iteration boundary, writes what it must (best model, checkpoint)
//!   and returns. A second signal while deferred falls back to the immediate path, so a stuck run can
//!   always be stopped by pressing Ctrl-C twice.
//!
//! The handler does only async-signal-safe work: atomic loads and stores, `unlink` on NUL-terminated
//! paths held in a fixed static table, and `_exit`. Registering a temp path copies it into a free slot
//! of that table (no allocation in the handler); a path longer than a slot, or a full table, is simply
//! not registered, and the write's own drop guard still removes its temp file on every ordinary exit.
//!
//! On non-Unix targets [`install`] does nothing and [`interrupted`] is always `None`.

use std::sync::atomic::{AtomicI32, AtomicU8, AtomicUsize, Ordering};

/// The signal received (2 = SIGINT, 15 = SIGTERM), or 0.
static RECEIVED: AtomicI32 = AtomicI32::new(0);
/// How many [`Deferral`]s are alive.
static DEFERRED: AtomicUsize = AtomicUsize::new(0);

/// Number of temp paths that can be registered at once.
const SLOTS: usize = 16;
/// Longest registrable path in bytes, including its terminating NUL.
const PATH_MAX: usize = 4096;

/// Slot states.
const FREE: u8 = 0;
const WRITING: u8 = 1;
const READY: u8 = 2;

struct Slot {
    state: AtomicU8,
    path: std::cell::UnsafeCell<[u8; PATH_MAX]>,
}

// safety: `path` is written only by the thread that moved `state` from FREE to WRITING (a CAS gives it
// exclusive ownership) and read only while `state` is READY, which is published with Release after the
// write and observed with Acquire.
unsafe impl Sync for Slot {}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: Slot = Slot {
    state: AtomicU8::new(FREE),
    path: std::cell::UnsafeCell::new([0; PATH_MAX]),
};
static TABLE: [Slot; SLOTS] = [EMPTY; SLOTS];

/// A registered temp path; dropping it unregisters the path (it does not remove the file).
#[must_use = "the path is unregistered when this is dropped"]
pub struct TempRegistration {
    slot: Option<usize>,
}

impl Drop for TempRegistration {
    fn drop(&mut self) {
        if let Some(i) = self.slot {
            TABLE[i].state.store(FREE, Ordering::Release);
        }
    }
}

/// Registers `path` so that an immediate-mode signal removes it. Best effort (see the module doc).
pub fn register_temp(path: &std::path::Path) -> TempRegistration {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let bytes = path.as_os_str().as_bytes();
        if bytes.len() < PATH_MAX && !bytes.contains(&0) {
            for (i, slot) in TABLE.iter().enumerate() {
                if slot
                    .state
                    .compare_exchange(FREE, WRITING, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    // safety: the CAS above made this thread the slot's only writer (see `Slot`).
                    let buf = unsafe { &mut *slot.path.get() };
                    buf[..bytes.len()].copy_from_slice(bytes);
                    buf[bytes.len()] = 0;
                    slot.state.store(READY, Ordering::Release);
                    return TempRegistration { slot: Some(i) };
                }
            }
        }
    }
    let _ = path;
    TempRegistration { slot: None }
}

/// While alive, SIGINT/SIGTERM are recorded for [`interrupted`] instead of ending the process.
#[must_use = "signals are deferred only while this is alive"]
pub struct Deferral(());

impl Deferral {
    /// Starts deferring signals (installs the handlers if needed).
    pub fn new() -> Self {
        install();
        DEFERRED.fetch_add(1, Ordering::SeqCst);
        Deferral(())
    }
}

impl Default for Deferral {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Deferral {
    fn drop(&mut self) {
        DEFERRED.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The signal received since the handlers were installed (2 = SIGINT, 15 = SIGTERM), if any.
pub fn interrupted() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// Forgets a recorded signal (for a library caller that handled it and goes on).
pub fn clear() {
    RECEIVED.store(0, Ordering::SeqCst);
}

/// The name of signal `sig` for messages.
pub fn name(sig: i32) -> &'static str {
    match sig {
        2 => "SIGINT",
        15 => "SIGTERM",
        _ => "a signal",
    }
}

#[cfg(unix)]
mod sys {
    use std::os::raw::{c_char, c_int};
    pub const SIGINT: c_int = 2;
    pub const SIGTERM: c_int = 15;
    pub type Handler = extern "C" fn(c_int);
    extern "C" {
        pub fn signal(sig: c_int, handler: Handler) -> usize;
        pub fn unlink(path: *const c_char) -> c_int;
        pub fn _exit(code: c_int) -> !;
    }
}

#[cfg(unix)]
extern "C" fn on_signal(sig: std::os::raw::c_int) {
    let first = RECEIVED.swap(sig, Ordering::SeqCst) == 0;
    if first && DEFERRED.load(Ordering::SeqCst) > 0 {
        return;
    }
    for slot in TABLE.iter() {
        if slot.state.load(Ordering::Acquire) == READY {
            // safety: READY slots hold a NUL-terminated path (see `Slot`); unlink is async-signal-safe.
            unsafe { sys::unlink(slot.path.get() as *const std::os::raw::c_char) };
        }
    }
    // safety: _exit is async-signal-safe and runs no destructors or atexit handlers.
    unsafe { sys::_exit(128 + sig) }
}

/// Installs the SIGINT/SIGTERM handlers (idempotent). The CLI calls this first thing.
pub fn install() {
    #[cfg(unix)]
    {
        static INSTALLED: std::sync::Once = std::sync::Once::new();
        INSTALLED.call_once(|| {
            // safety: `on_signal` is an `extern "C" fn(c_int)` doing only async-signal-safe work.
            unsafe {
                sys::signal(sys::SIGINT, on_signal);
                sys::signal(sys::SIGTERM, on_signal);
            }
        });
    }
}
