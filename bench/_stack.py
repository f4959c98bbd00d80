"""Start the real stack for a bench script, isolated from `make run` and from the tests.

What `make run` starts (Procfile), each as a subprocess in its own process group:
- redis-server on a free port, persistence off;
- a fresh SQLite database in a temporary directory, migrated with `manage.py migrate`;
- Daphne serving undertone_web.asgi:application on a free port;
- one Celery worker (`--concurrency 1`, prefork: a main process and one pool child; no beat).

Secrets are fresh per run (SECRET_KEY, a new Fernet key), so nothing touches var/ or var/secrets.env.
The bench process itself gets the same environment (`Stack.setup_django()`), so it can create users
and sessions and read rows through the ORM.

Usage:
    with Stack() as stack:          # starts everything; stops it all on exit, even on errors
        stack.web_url, stack.ws_url(session_id), stack.cpu_seconds(), stack.log_tails()

Faults (bench/faults.py, tests/faults/): `restart_redis()`, `restart_daphne()`, `kill_worker()` +
`start_worker()`, `pause_worker()`/`resume_worker()`, `celery_app()` (bound to this stack's Redis, so a
process whose own settings point elsewhere, like a pytest run, can ping or send tasks). A test process
that already has Django set up passes `django_in_process=False` and its own DATABASE_URL and settings
module in `env`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stat(pid: int) -> tuple[int, float] | None:
    """(ppid, CPU seconds) of one process: utime + stime, plus cutime + cstime (its children that
    have exited and been waited for, which are no longer in the live tree)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "; comm may hold spaces
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return ppid, (utime + stime + cutime + cstime) / CLOCK_TICKS


def tree_cpu_seconds(root_pid: int) -> float:
    """CPU seconds (user + system, all threads) of a process and all its live descendants."""
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                stats[int(entry)] = stat
    children: dict[int, list[int]] = {}
    for pid, (ppid, _cpu) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root_pid]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += stats[pid][1]
        todo += children.get(pid, [])
    return total


class Service:
    """One process of the stack, in its own process group, logging to a file. Also what the test
    suite's fixtures start (tests/conftest.py: start_worker, start_daphne): one harness for both."""

    def __init__(self, name: str, args: list[str], env: dict, log_dir: Path):
        self.name = name
        self.args = args
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the process's life
        # Own session = own process group: stop() can signal the worker's pool children too.
        self.popen = subprocess.Popen(
            args, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 15) -> None:
        if self.alive():
            for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.popen.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.popen.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        # The group may outlive its leader (a pool child); make sure nothing of ours is left.
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._log.close()

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """A crash: `sig` to the whole process group (the worker's pool child too), then reap it."""
        self.signal_group(sig)
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.signal_group(signal.SIGKILL)
            self.popen.wait(timeout=5)
        self.signal_group(signal.SIGKILL)  # whatever of the group outlived its leader
        self._log.close()

    def output(self) -> str:
        """The whole log so far (tests read a slice of it: what a request added)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


class StackError(RuntimeError):
    pass


class Stack:
    def __init__(
        self,
        *,
        keep: bool = False,
        worker_concurrency: int = 1,
        worker_queues: str = "",
        env: dict | None = None,
        django_in_process: bool = True,
        migrate: bool = True,
        worker_loglevel: str = "WARNING",
        base_dir: Path | None = None,
        private_dirs: bool = False,
        worker_beat: bool = False,
        web_processes: int = 1,
    ):
        """`django_in_process=False`: leave this process's Django alone (a pytest run that already has
        its own settings); `migrate=False`: the database in `env["DATABASE_URL"]` is migrated already;
        `base_dir`: where the temp dir (logs, SQLite) goes. `private_dirs`: the services get TMPDIR
        (`self.tmp_dir`) and MEDIA_ROOT (`self.media_dir`) inside the stack dir, so the temp and media
        files they write are exactly theirs (bench/privacy_audit.py scans them); this process keeps its
        own TMPDIR. `worker_beat`: the worker embeds beat (`-B`), as the Procfile runs it, with its
        schedule file in the stack dir. `web_processes` > 1: that many Daphne processes (services
        daphne1..N) behind HAProxy (service haproxy, scripts/haproxy-config.sh) on `web_port`, as
        `make run WEB_PROCESSES=N` runs them."""
        from cryptography.fernet import Fernet

        self.dir = Path(tempfile.mkdtemp(prefix="undertone-bench-", dir=base_dir))
        self.django_in_process = django_in_process
        self.migrate = migrate
        self.worker_loglevel = worker_loglevel
        self.keep = keep
        self.failed = False
        self.worker_concurrency = worker_concurrency
        self.worker_queues = worker_queues  # e.g. "celery,llm": also the language model's queue
        self.redis_port = free_port()
        self.web_port = free_port()
        self.web_processes = web_processes
        self.backend_ports = [free_port() for _ in range(web_processes)] if web_processes > 1 else []
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.env = {
            "DJANGO_SETTINGS_MODULE": "undertone_web.settings.base",
            "DATABASE_URL": f"sqlite:///{self.dir / 'bench.sqlite3'}",
            "SECRET_KEY": f"bench-{os.urandom(24).hex()}",
            "RECAP_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "REDIS_URL": self.redis_url,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_DIR": str(self.dir),
            "PYTHONUNBUFFERED": "1",
            "WEB_PROCESSES": str(web_processes),  # the machine's socket cap is split among them
            **(env or {}),
        }
        self.services: dict[str, Service] = {}
        self._django_ready = False
        self._celery_app = None
        self.private_dirs = private_dirs
        self.worker_beat = worker_beat
        self.tmp_dir = self.dir / "tmp"
        self.media_dir = self.dir / "media"
        if private_dirs:
            self.tmp_dir.mkdir()
            self.media_dir.mkdir()
            self.env.setdefault("MEDIA_ROOT", str(self.media_dir))

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def ws_url(self, session_id) -> str:
        return f"ws://127.0.0.1:{self.web_port}/ws/capture/{session_id}/"

    def subprocess_env(self) -> dict:
        # The services use self.env's DATABASE_URL. A TEST_DATABASE_URL inherited from a test run
        # would move a service on the test settings to that server's base database instead.
        inherited = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
        env = {**inherited, **self.env}
        if self.private_dirs:
            env["TMPDIR"] = str(self.tmp_dir)  # not in self.env: setup_django() must not move ours
        return env

    def setup_django(self) -> None:
        """Give this process the stack's settings (same database, Redis and keys) and set Django up."""
        if self._django_ready:
            return
        os.environ.update(self.env)
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        self._django_ready = True

    # Starting -----------------------------------------------------------------------------------

    def start(self) -> Stack:
        try:
            if self.django_in_process:
                self.setup_django()
            self._start_redis()
            if self.migrate:
                self._migrate()
            self._start_web()
            self._start_worker()
        except BaseException:
            self.failed = True
            self.stop()
            raise
        return self

    def _start(self, name: str, args: list[str]) -> Service:
        service = Service(name, args, self.subprocess_env(), self.dir)
        self.services[name] = service
        return service

    def _fail(self, message: str, service: Service | None = None) -> None:
        self.failed = True
        tail = f"\n--- {service.name} log tail ({service.log_path}) ---\n{service.tail()}" if service else ""
        raise StackError(message + tail)

    def _start_redis(self) -> None:
        import redis

        service = self._start(
            "redis",
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.redis_port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.dir),
                "--logfile",
                "",
            ],
        )
        client = redis.Redis(port=self.redis_port, socket_connect_timeout=0.5, socket_timeout=0.5)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return
            except redis.RedisError:
                if not service.alive():
                    self._fail("redis-server exited", service)
                time.sleep(0.1)
        self._fail("redis-server did not answer PING within 15 s", service)

    def _migrate(self) -> None:
        log = self.dir / "migrate.log"
        with open(log, "wb") as out:
            try:
                done = subprocess.run(
                    [sys.executable, "manage.py", "migrate", "--noinput"],
                    cwd=ROOT,
                    env=self.subprocess_env(),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=300,
                )
            except subprocess.TimeoutExpired:
                self.failed = True
                raise StackError(f"migrate took over 300 s; see {log}") from None
        if done.returncode:
            self.failed = True
            raise StackError(f"migrate failed:\n{log.read_text(errors='replace')[-3000:]}")

    def _start_daphne(self, name: str = "daphne", port: int | None = None) -> None:
        port = port or self.web_port
        service = self._start(
            name,
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "undertone_web.asgi:application",
            ],
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                if not service.alive():
                    self._fail("daphne exited", service)
                time.sleep(0.2)
        self._fail("daphne did not listen within 60 s", service)

    def _start_worker(self) -> None:
        app = self.celery_app()
        service = self._start(
            "worker",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "undertone_web",
                "worker",
                "--concurrency",
                str(self.worker_concurrency),
                "--loglevel",
                self.worker_loglevel,
                "-n",
                f"bench-{os.getpid()}@%h",
                *(["-B", "--schedule", str(self.dir / "celerybeat-schedule")] if self.worker_beat else []),
                *(["-Q", self.worker_queues] if self.worker_queues else []),
            ],
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if app.control.ping(timeout=0.5):
                return
            if not service.alive():
                self._fail("celery worker exited", service)
        self._fail("celery worker did not answer ping within 90 s", service)

    # Faults -------------------------------------------------------------------------------------

    def celery_app(self):
        """A Celery app on this stack's broker only: ping the worker, send a task as beat would."""
        if self._celery_app is None:
            from celery import Celery

            self._celery_app = Celery("undertone-stack", broker=self.redis_url, set_as_current=False)
        return self._celery_app

    def redis_client(self):
        import redis

        return redis.Redis.from_url(self.redis_url, socket_connect_timeout=2, socket_timeout=5)

    def restart_redis(self, sig: int = signal.SIGTERM) -> None:
        """Stop redis-server and start a fresh one on the same port. Persistence is off, so every key
        is gone: window audio, the Celery queue and its unacked messages, the channel layer's groups."""
        self.services["redis"].kill(sig)
        self._start_redis()

    def restart_daphne(self, sig: int = signal.SIGKILL) -> None:
        """Kill Daphne (SIGKILL: a crash, no close frames) and start a new one on the same port."""
        self.services["daphne"].kill(sig)
        self._start_daphne()

    def kill_worker(self, sig: int = signal.SIGKILL) -> None:
        """`sig` to the worker's whole process group: main process and pool children."""
        self.services["worker"].kill(sig)

    def start_worker(self) -> None:
        """Start a (new) worker, e.g. after kill_worker(); returns once it answers ping."""
        self._start_worker()

    def pause_worker(self) -> None:
        self.services["worker"].signal_group(signal.SIGSTOP)

    def resume_worker(self) -> None:
        self.services["worker"].signal_group(signal.SIGCONT)

    # Measuring ----------------------------------------------------------------------------------

    def pids(self) -> list[int]:
        """Every live process of every service: each leader and all its descendants."""
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                stat = _stat(int(entry))
                if stat is not None:
                    children.setdefault(stat[0], []).append(int(entry))
        found, todo = [], [s.pid for s in self.services.values() if s.alive()]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo += children.get(pid, [])
        return found

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds so far of each service's whole process tree (the worker's pool children too)."""
        return {name: tree_cpu_seconds(service.pid) for name, service in self.services.items()}

    def check_alive(self) -> None:
        for service in self.services.values():
            if not service.alive():
                self._fail(f"{service.name} exited (code {service.popen.returncode})", service)

    def log_tails(self, lines: int = 40) -> str:
        return "\n".join(
            f"--- {name} log tail ({service.log_path}) ---\n{service.tail(lines)}"
            for name, service in self.services.items()
        )

    # Stopping -----------------------------------------------------------------------------------

    def stop(self) -> None:
        # Worker first (its warm shutdown still talks to Redis), Redis last.
        web = ["haproxy", *self.web_names()] if self.web_processes > 1 else ["daphne"]
        for name in ("worker", *web, "redis"):
            service = self.services.get(name)
            if service is not None:
                service.stop()
        if self.web_processes > 1:
            (Path(tempfile.gettempdir()) / f"uw-haproxy-{self.web_port}.sock").unlink(missing_ok=True)
        if self.keep or self.failed:
            print(f"stack files kept in {self.dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Stack:
        # `timeout` and Ctrl-C send SIGTERM/SIGINT: turn SIGTERM into SystemExit so __exit__ still
        # stops redis/daphne/celery instead of leaving them running with their CPU and ports.
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.failed = True
        self.stop()

    # Several web processes (issue 18) -----------------------------------------------------------

    def web_names(self) -> list[str]:
        """The Daphne services: ["daphne"], or daphne1..N behind HAProxy."""
        if self.web_processes == 1:
            return ["daphne"]
        return [f"daphne{i}" for i in range(1, self.web_processes + 1)]

    def _start_web(self) -> None:
        if self.web_processes == 1:
            self._start_daphne()
            return
        for name, port in zip(self.web_names(), self.backend_ports, strict=True):
            self._start_daphne(name, port)
        self._start_haproxy()

    def _start_haproxy(self) -> None:
        config = self.dir / "haproxy.cfg"
        # A Unix socket path is at most ~100 bytes, and a test's tmp_path is longer: a short one in /tmp.
        self.haproxy_socket = Path(tempfile.gettempdir()) / f"uw-haproxy-{self.web_port}.sock"
        self.haproxy_socket.unlink(missing_ok=True)
        rendered = subprocess.run(
            [
                "bash",
                "scripts/haproxy-config.sh",
                str(self.web_port),
                ",".join(map(str, self.backend_ports)),
                str(self.haproxy_socket),
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        config.write_text(rendered.stdout)
        service = self._start("haproxy", ["haproxy", "-db", "-f", str(config)])
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.haproxy_socket.exists():
                try:
                    with socket.create_connection(("127.0.0.1", self.web_port), timeout=0.5):
                        return
                except OSError:
                    pass
            if not service.alive():
                self._fail("haproxy exited", service)
            time.sleep(0.1)
        self._fail("haproxy did not listen within 15 s", service)

    def haproxy_sessions(self) -> dict[str, int]:
        """Open connections per web process as HAProxy counts them (its stats socket, `scur`):
        which process a socket opened through the proxy lives on."""
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(self.haproxy_socket))
            s.sendall(b"show stat\n")
            raw = b""
            while chunk := s.recv(65536):
                raw += chunk
        lines = raw.decode().splitlines()
        header = lines[0].lstrip("# ").split(",")
        rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:] if line]
        names = {f"web{i}": name for i, name in enumerate(self.web_names(), start=1)}
        return {names[r["svname"]]: int(r["scur"] or 0) for r in rows if r.get("svname") in names}

    def kill_web(self, name: str, sig: int = signal.SIGKILL) -> None:
        """A crash of one web process behind the proxy; the others (and the proxy) stay."""
        self.services[name].kill(sig)

    def start_web(self, name: str) -> None:
        """Start a (new) web process behind the proxy, e.g. after kill_web(), on its own port again."""
        self._start_daphne(name, self.backend_ports[self.web_names().index(name)])
