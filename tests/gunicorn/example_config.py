# ruff: noqa: UP031, N806  (Gunicorn's own style, kept as it is)
# Our own copy of the shape of Gunicorn's examples/example_config.py: the same settings,
# the same hooks with the same arguments, the same attributes read; plus the hooks and
# attributes common deploy configs use. Each hook also records what it saw.

import os

RECORD = os.environ["HOOK_RECORD"]


def record(*parts):
    with open(RECORD, "a") as f:
        f.write(" ".join(str(p) for p in parts) + "\n")


# Server socket
bind = "127.0.0.1:8000"
backlog = 2048

# Worker processes
workers = 1
worker_class = "sync"
worker_connections = 1000
timeout = 30
keepalive = 2

# Debugging
spew = False

# Server mechanics
daemon = False
raw_env = ["DJANGO_SECRET_KEY=something", "SPAM=eggs"]
pidfile = None
umask = 0
user = None
group = None
tmp_upload_dir = None

# Logging
errorlog = "-"
loglevel = "info"
accesslog = "-"
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'

# Process naming
proc_name = None


# Server hooks
def post_fork(server, worker):
    server.log.info("Worker spawned (pid: %s)", worker.pid)
    worker.spawned_by = server.pid  # state kept on the worker for later hooks
    record("post_fork", worker.pid, worker.age, server.pid, worker.ppid, worker.alive)


def pre_fork(server, worker):
    record("pre_fork", worker.pid, server.num_workers)


def pre_exec(server):
    server.log.info("Forked child, re-executing.")


def when_ready(server):
    server.log.info("Server is ready. Spawning workers")
    record("when_ready", server.pid, server.cfg.workers, server.num_workers, server.cfg.bind)


def worker_int(worker):
    worker.log.info("worker received INT or QUIT signal")

    ## get traceback info
    import sys
    import threading
    import traceback

    id2name = {th.ident: th.name for th in threading.enumerate()}
    code = []
    for threadId, stack in sys._current_frames().items():
        code.append("\n# Thread: %s(%d)" % (id2name.get(threadId, ""), threadId))
        for filename, lineno, name, line in traceback.extract_stack(stack):
            code.append('File: "%s", line %d, in %s' % (filename, lineno, name))
            if line:
                code.append("  %s" % (line.strip()))
    worker.log.debug("\n".join(code))
    record("worker_int", worker.pid, len(code) > 0)


def worker_abort(worker):
    worker.log.info("worker received SIGABRT signal")


def ssl_context(conf, default_ssl_context_factory):
    import ssl

    context = default_ssl_context_factory()
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    return context


# Hooks common deploy configs add
def on_starting(server):
    record("on_starting", server.pid, server.cfg.worker_class_str)


def post_worker_init(worker):
    record("post_worker_init", worker.pid, worker.age, worker.spawned_by, worker.cfg.timeout)


def pre_request(worker, req):
    worker.log.debug("%s %s", req.method, req.path)
    headers = dict(req.headers)
    record(
        "pre_request",
        worker.pid,
        req.method,
        req.path,
        req.query,
        req.uri,
        req.version,
        headers.get("X-REQUEST-ID"),
    )


def post_request(worker, req, environ, resp):
    record(
        "post_request",
        worker.pid,
        req.path,
        environ["PATH_INFO"],
        resp.status,
        resp.status_code,
        dict(resp.headers).get("Content-Type"),
        worker.nr >= 0,
    )


def workers_seen(server):
    """server.WORKERS as "pid=worker.pid/worker.age,...", oldest first."""
    return ",".join("%s=%s/%s" % (pid, w.pid, w.age) for pid, w in server.WORKERS.items()) or "-"


def nworkers_changed(server, new_value, old_value):
    record("nworkers_changed", new_value, old_value, workers_seen(server))


def on_reload(server):
    record("on_reload", server.pid, workers_seen(server))


def child_exit(server, worker):
    record("child_exit", worker.pid, worker.age, workers_seen(server))


def worker_exit(server, worker):
    record("worker_exit", worker.pid, worker.age)


def on_exit(server):
    record("on_exit", server.pid)
