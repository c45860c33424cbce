"""A local process pool: a dead worker fails its own case and the others run;
workers never print into the report; they end with their parent."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

MODULE = textwrap.dedent("""
    import multiprocessing
    import os
    import numpy as np

    def dies(x):  # only in a worker: the base point is evaluated in the parent
        if multiprocessing.current_process().name != "MainProcess":
            os._exit(3)
        return np.sum(x ** 2)

    def prints(x):
        print("printed by the user's function")
        return np.sum(x ** 2)
""")
CASES = textwrap.dedent("""
    cases:
      - name: dies
        inputs: {x: {random: normal, shape: [40], seed: 0}}
        function: {python: "poolmod:dies"}
        expect: {gradient: 2 * x}
      - name: prints
        inputs: {x: {random: normal, shape: [40], seed: 0}}
        function: {python: "poolmod:prints"}
        expect: {gradient: 2 * x}
      - name: fine
        inputs: {x: {random: normal, shape: [40], seed: 0}}
        function: sum(x ** 2)
        expect: {gradient: 2 * x}
""")


def _fdcheck(*args, cwd):
    return subprocess.run([sys.executable, "-m", "fdcheck", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("fmt", ["json", "junit"])
def test_a_dead_worker_fails_its_own_case_and_prints_stay_out_of_the_document(tmp_path, fmt):
    (tmp_path / "poolmod.py").write_text(MODULE)
    (tmp_path / "c.yaml").write_text(CASES)
    out = _fdcheck("run", "c.yaml", "--allow-python", "--workers", "2", "--format", fmt,
                   cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    if fmt == "json":
        cases = json.loads(out.stdout)["cases"]
        assert [c["passed"] for c in cases] == [False, True, True]
        assert "a worker process died" in cases[0]["error"]
    else:
        import xml.etree.ElementTree as ET
        root = ET.fromstring(out.stdout)
        assert [len(c) for c in root.iter("testcase")] == [1, 0, 0]
    assert "printed by the user's function" in out.stderr


def test_the_workers_end_when_their_parent_is_killed(tmp_path):
    script = textwrap.dedent("""
        import os, sys
        from fdcheck.workers import LocalPool
        pool = LocalPool(2)
        pids = set(pool.submit(os.getpid).result() for _ in range(8))
        print(" ".join(map(str, pids)), flush=True)
        os.kill(os.getpid(), 9)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    pids = [int(p) for p in out.stdout.split()]
    assert pids
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    assert not any(_alive(p) for p in pids)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its new parent) is not running.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_ctrl_c_with_workers_gives_130_the_finished_cases_and_no_worker_traceback(tmp_path):
    (tmp_path / "slow.py").write_text(textwrap.dedent("""
        import time
        import numpy as np

        def slow(x):
            time.sleep(0.05)
            return np.sum(x ** 2)
    """))
    (tmp_path / "c.yaml").write_text(textwrap.dedent("""
        cases:
          - name: quick
            inputs: {x: [1.0, 2.0]}
            function: sum(x ** 2)
            expect: {gradient: 2 * x}
          - name: slow
            inputs: {x: {random: normal, shape: [400], seed: 0}}
            function: {python: "slow:slow"}
            expect: {gradient: 2 * x}
    """))
    proc = subprocess.Popen([sys.executable, "-m", "fdcheck", "run", "c.yaml", "--allow-python",
                             "--workers", "2"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(6)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole group
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "PASS  quick" in out
    assert "Traceback" not in err, err


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_user_code_that_closes_standard_output_loses_no_report(tmp_path, fmt):
    (tmp_path / "closer.py").write_text("import sys\nimport numpy as np\n\n\ndef f(x):\n"
                                        "    sys.stdout.close()\n    return np.sum(x ** 2)\n")
    (tmp_path / "c.yaml").write_text(textwrap.dedent("""
        cases:
          - name: closes
            inputs: {x: [1.0, 2.0]}
            function: {python: "closer:f"}
            expect: {gradient: [2, 4]}
          - name: after
            inputs: {x: [1.0, 2.0]}
            function: sum(x ** 2)
            expect: {gradient: [2, 4]}
    """))
    out = _fdcheck("run", "c.yaml", "--allow-python", "--format", fmt, cwd=tmp_path)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    if fmt == "json":
        assert json.loads(out.stdout)["summary"]["passed"] == 2
    else:
        assert "2 passed" in out.stdout


@pytest.mark.parametrize("raised", [MemoryError("exabytes"), ValueError("bad frame"),
                                    KeyError("op")])
def test_a_peer_that_is_no_dask_scheduler_is_a_named_os_error(raised):
    import socket

    from fdcheck.workers import _connect

    class Garbage:
        def __init__(self, address, timeout):
            raise raised
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        with pytest.raises(OSError, match="answered, but not as a Dask scheduler"):
            _connect(Garbage, f"tcp://127.0.0.1:{server.getsockname()[1]}", 2.0)
    finally:
        server.close()
