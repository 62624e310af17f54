"""Shared fixtures: the `monge` CLI binary the parity tests compare against.

Set MONGE_CLI to a built binary, or the tests use `<repo>/target/release/monge`, building it with
`cargo build --release` when it is missing."""

import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cli():
    path = os.environ.get("MONGE_CLI")
    if path:
        p = pathlib.Path(path)
        assert p.is_file(), f"MONGE_CLI={path} does not exist"
        return str(p)
    p = REPO / "target" / "release" / "monge"
    if not p.is_file():
        subprocess.run(["cargo", "build", "--release", "--bin", "monge"], cwd=REPO, check=True)
    return str(p)


def run_cli(cli, *args):
    """Runs the CLI; returns stdout; fails the test with stderr on a non-zero exit."""
    r = subprocess.run([cli, *map(str, args)], capture_output=True, text=True)
    assert r.returncode == 0, f"monge {' '.join(map(str, args))} exited {r.returncode}: {r.stderr}"
    return r.stdout
