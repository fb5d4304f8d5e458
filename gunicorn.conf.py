"""gunicorn settings for Wuyi BPM: `gunicorn -c gunicorn.conf.py wsgi:app` (see README, deploying).

/metrics runs prometheus_client in multiprocess mode: every worker writes its counters to files in
PROMETHEUS_MULTIPROC_DIR, the scrape adds them up, and a worker that exits is marked dead (its
live gauges dropped; its counts kept). The directory must be set before the app is imported (it
is, here, in the master) and be empty at start: when it is not given, a fresh one is made per
master under the system's temp directory. A `flask scheduler run` on the same host may share it
(export the same PROMETHEUS_MULTIPROC_DIR) so its dispatcher counters appear in the same scrape.

Command-line flags (-w, --threads, -b) override what is set here.
"""
import os
import shutil
import tempfile

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
accesslog = os.environ.get("GUNICORN_ACCESS_LOG")   # "-" for stdout; with LOG_FORMAT=json the app logs each request

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="wuyi-prometheus-")
    _own_dir = True
else:
    _own_dir = False
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)


def on_starting(server):
    """A directory left by an earlier run would add its old counts to the new ones: start empty
    (only the files; the directory may be a mount)."""
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if os.path.isfile(path) and name.endswith(".db"):
            os.unlink(path)


def child_exit(server, worker):
    """A dead worker's live gauges go; its counters stay in the sums."""
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _own_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
