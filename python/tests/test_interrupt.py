"""Ctrl-C stops training and raises KeyboardInterrupt (the interpreter lives on); the GIL is released
while training; the progress callback sees the solver's reports and can stop it by raising."""

import _thread
import os
import signal
import threading
import time

import pytest

import monge


@pytest.fixture(autouse=True)
def python_sigint_handler():
    # as in a notebook kernel: SIGINT raises KeyboardInterrupt, even when this process was started with
    # SIGINT ignored (a background job of a non-interactive shell, some CI runners)
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


@pytest.fixture(scope="module")
def xy():
    return monge.synth.toy("8gaussians", n=500, seed=0)


class Runaway(Exception):
    """Raised by a guard callback when training went on long after the interrupt (a broken
    Ctrl-C path fails the test quickly instead of training for hours)."""


def guard(limit, seen):
    def cb(p):
        seen.append(p["iteration"])
        if p["iteration"] >= limit:
            raise Runaway(f"still training at iteration {p['iteration']}")

    return cb


@pytest.mark.parametrize("method", ["w2", "w1"])
def test_interrupt_main_stops_at_the_next_report(xy, method):
    seen = []

    def cb(p):
        seen.append(p["iteration"])
        if len(seen) == 1:
            _thread.interrupt_main()  # as Ctrl-C: Python's SIGINT flag is set
        if len(seen) > 3:
            raise Runaway("not interrupted")

    with pytest.raises(KeyboardInterrupt):
        monge.fit(*xy, method=method, iters=1_000_000, batch=64, eval_every=0, progress=cb)
    # the signal set during report 1 is seen at report 2, before the callback runs
    assert seen == [100]


def test_real_sigint_from_a_timer_thread(xy):
    seen = []
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        monge.fit(*xy, iters=10_000_000, batch=64, eval_every=0, progress=guard(1_000_000, seen))
    timer.join()
    # the interpreter goes on: another fit works
    m = monge.fit(*xy, method="mean-shift", quiet=True)
    assert m.dim == 2


def test_training_releases_the_gil(xy):
    count = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            count[0] += 1

    th = threading.Thread(target=spin)
    th.start()
    try:
        c0 = count[0]
        monge.fit(*xy, iters=300, batch=128, eval_every=0, quiet=True)
        ran = count[0] - c0
    finally:
        stop.set()
        th.join()
    # with the GIL held during training the spinning thread would barely run
    assert ran > 10_000


def test_progress_callback_and_stop(xy):
    seen = []
    monge.fit(*xy, iters=250, batch=64, eval_every=100, patience=100, progress=seen.append)
    # iteration 0: the start's held-out evaluation (a selection candidate), before any loss exists
    assert [p["iteration"] for p in seen] == [0, 100, 200, 250]
    assert all(p["phase"] == "w2" and p["total"] == 250 for p in seen)
    assert seen[0]["losses"] == {} and seen[0]["heldout"] == seen[0]["heldout_best"]
    assert {"loss_g", "loss_f"} <= set(seen[1]["losses"])
    assert seen[1]["heldout"] is not None and seen[1]["criterion"] == "sliced_w2"

    class Enough(Exception):
        pass

    calls = []

    def stop_at_200(p):
        calls.append(p["iteration"])
        if p["iteration"] >= 200:
            raise Enough("stop")

    with pytest.raises(Enough):
        monge.fit(*xy, iters=1_000_000, batch=64, eval_every=0, progress=stop_at_200)
    assert calls == [100, 200]

    # returning True: a clean stop with the best model so far
    m = monge.fit(*xy, iters=1_000_000, batch=64, eval_every=100, progress=lambda p: p["iteration"] >= 300)
    assert m.report["stopped"] == "interrupted" and m.report["iterations"] == 300
    assert m.report["heldout"]["best_iteration"] <= 300


def test_default_progress_line_goes_to_stderr(xy, capfd):
    monge.fit(*xy, iters=100, batch=64, eval_every=0)
    err = capfd.readouterr().err
    assert "[w2] 100/100 (100%)" in err and "loss_g=" in err
    monge.fit(*xy, iters=100, batch=64, eval_every=0, quiet=True)
    assert capfd.readouterr().err == ""


def test_sigint_without_a_callback(xy):
    # quiet=True: no Python code runs during training, so only the check at each progress report can see
    # the signal. Uninterrupted, 2·10⁶ iterations take far longer than the bound below (minutes even at
    # 0.1 ms per iteration); interrupted, the fit ends at the next report.
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    t0 = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        monge.fit(*xy, iters=2_000_000, batch=256, eval_every=0, quiet=True)
    timer.join()
    assert time.monotonic() - t0 < 60
