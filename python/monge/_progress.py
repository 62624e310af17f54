"""The default progress line of ``monge.fit`` (the CLI's format), printed to ``sys.stderr``."""

import sys
import time


def _fmt(x):
    if float(x).is_integer() and abs(x) < 1e9:
        return f"{x:.0f}"
    if 1e-3 <= abs(x) < 1e5:
        return f"{x:.4f}"
    return f"{x:.3e}"


class StderrProgress:
    """Prints ``[phase] i/total (p%) losses… elapsed=…s eta=…s`` at most every ``interval`` seconds
    (and at the end of each phase)."""

    def __init__(self, interval=1.0, file=None):
        self.interval = interval
        self.file = file
        self.start = time.monotonic()
        self.phase_start = self.start
        self.phase = None
        self.iteration = 0
        self.last = -1e9

    def __call__(self, p):
        now = time.monotonic()
        if p["phase"] != self.phase or p["iteration"] < self.iteration:
            if self.phase is not None:
                self.phase_start = now
            self.phase = p["phase"]
        self.iteration = p["iteration"]
        done = p["iteration"] >= p["total"]
        if not done and now - self.last < self.interval:
            return
        self.last = now
        it, total = p["iteration"], p["total"]
        el = now - self.phase_start
        eta = el / it * (total - it) if 0 < it < total else 0.0
        pct = 100.0 * it / total if total else 100.0
        line = f"[{p['phase']}] {it}/{total} ({pct:.0f}%)"
        for k, v in p["losses"].items():
            line += f" {k}={_fmt(v)}"
        if p.get("lambda") is not None:
            line += f" λ={_fmt(p['lambda'])}"
        if p.get("criterion") is not None and p.get("heldout") is not None:
            line += f" heldout_{p['criterion']}={_fmt(p['heldout'])}"
            if p.get("heldout_best") is not None:
                line += f" (best {_fmt(p['heldout_best'])})"
        line += f" elapsed={now - self.start:.1f}s eta={eta:.1f}s"
        print(line, file=self.file or sys.stderr, flush=True)
