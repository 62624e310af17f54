"""Ctrl-C stops training and raises KeyboardInterrupt (the interpreter lives on); the GIL is released
while training; the progress callback sees the solver's reports and can stop it by raising."""

import _thread
import os
import signal
import threading
import time

import pytest

import monge


@pytest.fixture(scope="module")
def xy():
    return monge.synth.toy("8gaussians", n=500, seed=0)


LONG = dict(iters=10_000_000, batch=64, eval_every=0, quiet=True)


@pytest.mark.parametrize("how", ["interrupt_main", "sigint"])
def test_ctrl_c_raises_keyboard_interrupt(xy, how):
    def fire():
        if how == "sigint":
            os.kill(os.getpid(), signal.SIGINT)
        else:
            _thread.interrupt_main()

    timer = threading.Timer(0.5, fire)
    t0 = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        monge.fit(*xy, **LONG)
    # stopped promptly (10⁷ iterations would take hours), and the interpreter goes on
    assert time.monotonic() - t0 < 30
    m = monge.fit(*xy, method="mean-shift", quiet=True)
    assert m.dim == 2


def test_ctrl_c_during_w1(xy):
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        monge.fit(*xy, method="w1", iters=10_000_000, batch=64, eval_every=0, quiet=True)


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
    monge.fit(*xy, iters=250, batch=64, eval_every=100, progress=seen.append)
    assert [p["iteration"] for p in seen] == [100, 200, 250]
    assert all(p["phase"] == "w2" and p["total"] == 250 for p in seen)
    assert set(seen[0]["losses"]) == {"loss_g", "loss_f", "w2"}
    assert seen[0]["heldout_mmd"] is not None

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


def test_default_progress_line_goes_to_stderr(xy, capfd):
    monge.fit(*xy, iters=100, batch=64, eval_every=0)
    err = capfd.readouterr().err
    assert "[w2] 100/100 (100%)" in err and "loss_g=" in err
    monge.fit(*xy, iters=100, batch=64, eval_every=0, quiet=True)
    assert capfd.readouterr().err == ""
