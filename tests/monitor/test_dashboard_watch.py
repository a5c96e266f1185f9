"""``ds01 gpu status --watch``: redraws with status read anew, ends cleanly on Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from tests.monitor.test_dashboard import NOW, at, ds01_exe, process_env, pty_run, scenario1

TITLE = "DS01 GPU SERVER STATUS"


def test_watch_piped_draws_twice_and_ends(ds01):
    scenario1(ds01)
    env = process_env(ds01, DS01_WATCH_ITERATIONS="2")
    proc = subprocess.run([ds01_exe(), "gpu", "status", "--watch", "0.05"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count(TITLE) == 2 and proc.stdout.count("training1") == 2
    assert "\x1b" not in proc.stdout and proc.stderr == ""


def test_watch_on_terminal_redraws_in_place(ds01):
    scenario1(ds01)
    env = process_env(ds01, DS01_WATCH_ITERATIONS="2")
    code, drawn = pty_run([ds01_exe(), "gpu", "status", "--watch", "0.05"], env)
    assert code == 0
    assert drawn.count(TITLE) == 2
    assert drawn.count("\x1b[H") >= 2  # back to the top-left corner for each frame
    assert drawn.rstrip().endswith("\x1b[?25h")  # the cursor is shown again


def test_watch_ctrl_c_exits_0(ds01):
    scenario1(ds01)
    proc = subprocess.Popen([ds01_exe(), "gpu", "status", "--watch", "0.2"],
                            env=process_env(ds01), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith("=====")
        time.sleep(0.5)  # at least one more refresh
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert out.count(TITLE) >= 1


def test_watch_reads_status_anew_each_time(ds01, monkeypatch):
    """Between two frames a container is allocated by another command: frame 2 shows it."""
    at(ds01, NOW, "alice", "before")
    real_sleep = time.sleep

    def meanwhile(seconds: float) -> None:
        assert seconds == 0.5
        from ds01.context import Context
        from ds01.service import Service
        from ds01.service.gpu import allocate

        svc = Service(Context.build())
        try:
            assert allocate(svc, "bob", "meanwhile").ok
        finally:
            svc.close()

    monkeypatch.setattr(time, "sleep", meanwhile)
    ds01.set(watch_iterations="2")
    res = ds01.cli("gpu", "status", "--watch", "0.5")
    assert res.code == 0, res.err
    frames = res.out.split(TITLE)[1:]
    assert len(frames) == 2
    assert "before" in frames[0] and "meanwhile" not in frames[0]
    assert "before" in frames[1] and "meanwhile" in frames[1]


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_watch_rejects_bad_intervals(ds01, value):
    res = ds01.cli("gpu", "status", f"--watch={value}")
    assert res.code == 2 and "--watch" in res.err


def test_watch_iterations_must_be_a_number(ds01):
    ds01.set(watch_iterations="two")
    res = ds01.cli("gpu", "status", "--watch", "0.01")
    assert res.code == 2 and "DS01_WATCH_ITERATIONS" in res.err


def test_redraw_cuts_a_frame_taller_than_the_screen():
    from ds01.monitor.dashboard_watch import CLEAR_BELOW, HOME, redraw

    frame = "\n".join(f"line {i}" for i in range(10))
    drawn = redraw(frame, rows=5)
    assert drawn.startswith(HOME) and drawn.endswith(CLEAR_BELOW)
    assert "line 2" in drawn and "line 3" not in drawn
    assert "7 more lines below" in drawn
    assert drawn.count("\n") == 3  # 4 lines on a 5-line screen: it never scrolls
    whole = redraw(frame, rows=40)
    assert "line 9" in whole and "more lines" not in whole
