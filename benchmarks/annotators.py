"""C concurrent simulated annotators over HTTP, against SQLite and against PostgreSQL.

    .venv/bin/python benchmarks/annotators.py [--seconds 10] [--warmup 3]
        [--concurrency 1,10,50,200] [--databases sqlite,postgresql] [--modes closed,paced]
        [--think 1.0] [--workers 2] [--items N] [--repeat 1] [--json]

For each (database, mode, C): a fresh project with a bounding-box job (one worker per image,
enough images that it never runs dry) and C workers, each with an API token. The server is
started the way a user starts it, `truthloop serve` in a child process (PostgreSQL with
`--workers N` processes, SQLite with the one it allows), its access log going to a file. The
annotators run here, in another process than the server, as asyncio tasks (uvloop), each on
its own keep-alive connection like a browser tab; everything stays on 127.0.0.1. Each annotator
loops for the fixed time: POST /api/jobs/{id}/next, then POST /api/tasks/{id}/submit with one
box.

Two modes:

- closed: no think time; an annotator asks for its next task the moment its submit returns.
  The worst case for latency: it shows the most the server can do.
- paced: an annotator works on each task for think x U(0.5, 1.5) seconds between receiving it
  and submitting it (--think, default 1.0 s: about a fast verifier's pace), and starts at a
  random moment within the first think time. What C people at work see.

Latency is measured per request by the client, from sending it to having read the whole
response, for every request sent after the warm-up (--warmup, 3 s: the load runs, but the
server's and the database's connections are still being opened and first statements compiled,
which a server that has been up for a while has done). Reported: submits per second, p50 /
p95 / p99 latency per request type, errors, the server's CPU time per next + submit pair, and
checks made in the database afterwards: stored labels and answers equal the successful submits
(warm-up included), no slot was handed out twice and none answered twice. The one-minute load
average before and after each run is reported beside it: the machine may be shared.
Target (issue 4): p99 <= 50 ms at 50 annotators on PostgreSQL, none lost or duplicated. Issue
18: next and submit p50 <= 10 ms with one annotator on a job of 1,000,000 items (--items), and
>= 190 submits/s in the closed loop at 50 annotators on SQLite (--repeat shows the spread).

PostgreSQL comes from TRUTHLOOP_BENCH_PG (default postgresql://postgres@127.0.0.1:5432/test, the
tests' server): a database is created for each run and dropped after it. Writes
benchmarks/results/annotators.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import psutil
import uvloop
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from truthloop import people  # noqa: E402
from truthloop.core.types import ImageRecord, ImageSize, LabelSet  # noqa: E402
from truthloop.labeling import JobSpec, TaskType, create_job  # noqa: E402
from truthloop.storage import datasets as store  # noqa: E402
from truthloop.storage.project import Project  # noqa: E402
from truthloop.storage.tables import AnnotationRow, SubmissionRow, TaskLeaseRow  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
PG_ADMIN = os.environ.get("TRUTHLOOP_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
TRUTHLOOP = Path(sys.executable).with_name("truthloop")
WIDTH, HEIGHT = 640, 480
JOB = "bench-boxes"
TARGET_P99_MS = 50.0


@dataclass
class Tally:
    """What the annotators saw: latencies (seconds) per request type, and outcomes."""

    measure_from: float
    latency: dict[str, list[float]] = field(default_factory=lambda: {"next": [], "submit": []})
    submitted: int = 0
    submitted_measured: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    empty: int = 0
    handed: list[int] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    def took(self, request: str, start: float) -> None:
        """A request sent at `start` has its answer; measured when sent after the warm-up."""
        if start >= self.measure_from:
            self.latency[request].append(time.perf_counter() - start)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def database(kind: str, home: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{home / 'truthloop.db'}"
        return
    import psycopg

    name = f"truthloop_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_sessions(url: str) -> int | None:
    """Sessions PostgreSQL has opened for the database of `url` since its statistics began
    (None for SQLite)."""
    if not url.startswith("postgresql"):
        return None
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        row = conn.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = %s", (name,)
        ).fetchone()
    return int(row[0]) if row else None


def seed(project: Project, annotators: int, images: int) -> tuple[int, list[str]]:
    """The job's id and one API token per annotator."""
    with project.session() as session:
        dataset = store.create_dataset(session, "bench", LabelSet.from_names(["logo", "text"]))
        records = [
            store.NewItem(ImageRecord(f"/bench/{i:07d}.jpg", ImageSize(WIDTH, HEIGHT)))
            for i in range(images)
        ]
        store.insert_items(session, dataset.id, records)
        people.add_team(session, "bench")
        tokens = []
        for n in range(annotators):
            user = people.add_user(session, f"annotator{n}", password=None)
            people.add_member(session, "bench", user.username)
            tokens.append(people.create_api_token(session, user, "bench"))
        spec = JobSpec(name=JOB, dataset="bench", task_type=TaskType.BOUNDING_BOX, team="bench")
        return create_job(session, spec).id, tokens


@contextmanager
def server(
    home: Path, database_url: str, workers: int
) -> Iterator[tuple[tuple[str, int], psutil.Process]]:
    """`truthloop serve` on a free loopback port, once all its worker processes are up: its
    address and its process."""
    port = free_port()
    env = {**os.environ, "TRUTHLOOP_DATABASE_URL": database_url}
    command = [str(TRUTHLOOP), "--home", str(home), "serve", "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(workers)]
    log_path = home / "serve.log"
    with log_path.open("wb") as log:
        child = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        # One uvicorn process says its app started a moment before it listens: wait for both.
        while log_path.read_text().count("Application startup complete") < workers or not (
            _listening(port)
        ):
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield ("127.0.0.1", port), psutil.Process(child.pid)
    finally:
        child.terminate()
        child.wait(timeout=60)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return False
    return True


class Tab:
    """One annotator's keep-alive HTTP/1.1 connection, as a browser tab keeps one.

    A minimal client on purpose: a full one (httpx) spends as much CPU per request as the
    server does, on the same cores, and the delays of its busy event loop would be counted as
    the server's latency.
    """

    IDLE_S = 3.0  # reconnect rather than reuse a connection the server (5 s) may be closing

    def __init__(self, host: str, port: int, token: str):
        self.host, self.port = host, port
        self.head = f"Host: {host}\r\nAuthorization: Bearer {token}\r\n"
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.used = 0.0

    async def post(self, path: str, body: bytes = b"") -> tuple[int, bytes]:
        """Status and body; ConnectionError when the connection failed."""
        if self.streams is not None and time.perf_counter() - self.used > self.IDLE_S:
            self.close()
        try:
            if self.streams is None:
                self.streams = await asyncio.open_connection(self.host, self.port)
            reader, writer = self.streams
            writer.write(
                f"POST {path} HTTP/1.1\r\n{self.head}Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode() + body
            )
            lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            headers = dict(line.lower().split(": ", 1) for line in lines[1:] if line)
            content = await reader.readexactly(int(headers.get("content-length", 0)))
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
            self.close()
            raise ConnectionError(type(error).__name__) from error
        self.used = time.perf_counter()
        if headers.get("connection") == "close":
            self.close()
        return int(lines[0].split(" ", 2)[1]), content

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


async def annotate(tab: Tab, job_id: int, until: float, think: float, rng: random.Random,
                   tally: Tally) -> None:
    if think:
        await asyncio.sleep(rng.uniform(0, think))
    while time.perf_counter() < until:
        start = time.perf_counter()
        try:
            status, content = await tab.post(f"/api/jobs/{job_id}/next")
        except ConnectionError as error:
            tally.error(f"next {error}")
            continue
        tally.took("next", start)
        if status == 204:
            tally.empty += 1
            await asyncio.sleep(0.05)
            continue
        if status != 200:
            tally.error(f"next {status}")
            continue
        task = orjson.loads(content)
        tally.handed.append(task["task_id"])
        working = think * rng.uniform(0.5, 1.5) if think else 0.0
        if working:
            if time.perf_counter() + working >= until:
                return
            await asyncio.sleep(working)
        left, top = rng.randrange(0, WIDTH - 50), rng.randrange(0, HEIGHT - 50)
        answer = {"kind": "boxes",
                  "boxes": [{"label": "logo", "left": left, "top": top, "width": 40, "height": 30}]}
        body = {"client_id": uuid.uuid4().hex, "answer": answer, "seconds": working}
        outcome = await submit(tab, f"/api/tasks/{task['task_id']}/submit", body, tally)
        if outcome is None:
            continue  # sent three times, and no answer came back
        status, content = outcome
        if status == 200 and orjson.loads(content)["accepted"]:
            tally.submitted += 1
            tally.submitted_measured += time.perf_counter() >= tally.measure_from
        else:
            tally.error(f"submit {status}")


async def submit(tab: Tab, path: str, body: dict, tally: Tally) -> tuple[int, bytes] | None:
    """Submit as a client should: when the connection fails, send the same answer (same client
    id) again, which the server stores at most once."""
    for _ in range(3):
        start = time.perf_counter()
        try:
            outcome = await tab.post(path, orjson.dumps(body))
        except ConnectionError as error:
            tally.error(f"submit {error} (sent again)")
            continue
        tally.took("submit", start)
        return outcome
    return None


async def drive(address: tuple[str, int], tokens: list[str], job_id: int, seconds: float,
                think: float, warmup: float) -> tuple[Tally, float]:
    """Run the annotators for `warmup` + `seconds`; the tally measures the last `seconds`."""
    started = time.perf_counter()
    tally = Tally(measure_from=started + warmup)
    until = tally.measure_from + seconds
    tabs = [Tab(*address, token) for token in tokens]
    try:
        await asyncio.gather(*(
            annotate(tab, job_id, until, think, random.Random(token), tally)
            for tab, token in zip(tabs, tokens, strict=True)
        ))
    finally:
        for tab in tabs:
            tab.close()
    return tally, time.perf_counter() - tally.measure_from


def percentiles(values: list[float]) -> dict[str, float | None]:
    if len(values) < 2:
        ms = round(values[0] * 1000, 2) if values else None
        return {"p50_ms": ms, "p95_ms": ms, "p99_ms": ms}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50_ms": round(cuts[49] * 1000, 2), "p95_ms": round(cuts[94] * 1000, 2),
            "p99_ms": round(cuts[98] * 1000, 2)}


def cpu_seconds(process: psutil.Process) -> float:
    """CPU time used so far by the process and its children (the server's worker processes)."""
    times = [p.cpu_times() for p in (process, *process.children(recursive=True))]
    return sum(t.user + t.system for t in times)


def check(project: Project, tally: Tally) -> dict[str, object]:
    with project.session() as session:
        labels = session.scalar(
            select(func.count()).select_from(AnnotationRow).where(AnnotationRow.job_name == JOB)
        )
        answers = session.scalar(select(func.count()).select_from(SubmissionRow))
        answered_slots = session.scalar(select(func.count(SubmissionRow.task_id.distinct())))
        # No lease runs out within a run (the job's time limit is minutes), so every slot
        # leased twice was handed out twice.
        twice = session.execute(
            select(TaskLeaseRow.task_id).group_by(TaskLeaseRow.task_id)
            .having(func.count() > 1)
        ).all()
    return {
        "stored_labels": labels,
        "stored_answers": answers,
        "labels_equal_submits": labels == answers == tally.submitted,
        "slots_given_twice": len(twice) + len(tally.handed) - len(set(tally.handed)),
        "slots_answered_twice": (answers or 0) - (answered_slots or 0),
    }


def run(kind: str, annotators: int, seconds: float, think: float, workers: int,
        warmup: float, items: int | None = None) -> dict[str, object]:
    images = items or max(2000, int(seconds * 1500))
    workers = workers if kind == "postgresql" else 1
    with tempfile.TemporaryDirectory() as tmp, database(kind, Path(tmp)) as url:
        home = Path(tmp) / "home"
        with Project.init(home, database_url=url) as project:
            job_id, tokens = seed(project, annotators, images)
            sessions_before = pg_sessions(url)
            with server(home, url, workers) as (address, process):
                load_before = os.getloadavg()[0]
                server_cpu, client_cpu = cpu_seconds(process), time.process_time()
                with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                    tally, elapsed = runner.run(
                        drive(address, tokens, job_id, seconds, think, warmup)
                    )
                server_cpu = cpu_seconds(process) - server_cpu
                client_cpu = time.process_time() - client_cpu
                load_after = os.getloadavg()[0]
            sessions = pg_sessions(url)
            checks = check(project, tally)
    pairs = max(tally.submitted, 1)
    return {
        "database": kind,
        "mode": "paced" if think else "closed",
        "think_s": think,
        "annotators": annotators,
        "items": images,
        "server_processes": workers,
        "warmup_s": warmup,
        "seconds": round(elapsed, 2),
        "submits_per_s": round(tally.submitted_measured / elapsed, 1),
        "submits": tally.submitted,
        "next": {"count": len(tally.latency["next"]), **percentiles(tally.latency["next"])},
        "submit": {"count": len(tally.latency["submit"]), **percentiles(tally.latency["submit"])},
        "errors": tally.errors,
        "ran_dry": tally.empty,
        # CPU per next + submit pair over the whole run (warm-up included), whatever else the
        # machine runs: the server's processes (not PostgreSQL's) and the annotators' client.
        "server_cpu_ms_per_submit": round(server_cpu / pairs * 1000, 2),
        "client_cpu_ms_per_submit": round(client_cpu / pairs * 1000, 2),
        # Connections PostgreSQL opened for the run's database while the server ran (a pool
        # that keeps its connections opens about one per request thread and process).
        "pg_sessions_opened": (
            None if sessions is None or sessions_before is None else sessions - sessions_before
        ),
        "load_1m_before": round(load_before, 2),
        "load_1m_after": round(load_after, 2),
        **checks,
    }


def passed(r: dict) -> bool:
    return (r["labels_equal_submits"] and r["slots_given_twice"] == 0
            and r["slots_answered_twice"] == 0)


def table(rows: list[dict]) -> str:
    head = (f"{'database':<11}{'mode':<7}{'C':>4}{'submits/s':>10}{'next p50':>10}{'p95':>8}"
            f"{'p99':>8}{'submit p50':>12}{'p95':>8}{'p99':>8}{'errors':>7}{'cpu/sub':>9}"
            f"{'pg conns':>9}  {'checks':<7}load 1m")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['database']:<11}{r['mode']:<7}{r['annotators']:>4}{r['submits_per_s']:>10}"
            f"{r['next']['p50_ms']:>10}{r['next']['p95_ms']:>8}{r['next']['p99_ms']:>8}"
            f"{r['submit']['p50_ms']:>12}{r['submit']['p95_ms']:>8}{r['submit']['p99_ms']:>8}"
            f"{sum(r['errors'].values()):>7}{r['server_cpu_ms_per_submit']:>9}"
            f"{'-' if r['pg_sessions_opened'] is None else r['pg_sessions_opened']:>9}"
            f"  {'ok' if passed(r) else 'FAILED':<7}"
            f"{r['load_1m_before']}->{r['load_1m_after']}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="Measured length of each run.")
    parser.add_argument("--warmup", type=float, default=3.0,
                        help="Seconds each run goes on before it is measured.")
    parser.add_argument("--concurrency", default="1,10,50,200")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--modes", default="closed,paced")
    parser.add_argument("--think", type=float, default=1.0,
                        help="Paced mode: mean seconds an annotator works on a task.")
    parser.add_argument("--workers", type=int, default=2,
                        help="Server processes for PostgreSQL (SQLite is served by one).")
    parser.add_argument("--items", type=int, default=None,
                        help="Items in the job (default: enough that no run drains it).")
    parser.add_argument("--repeat", type=int, default=1,
                        help="Runs of each configuration, one after another: on a shared"
                        " machine their spread shows what its load did to them.")
    parser.add_argument("--json", action="store_true", help="Print the results as JSON.")
    args = parser.parse_args()
    thinks = {"closed": 0.0, "paced": args.think}
    rows = [
        run(kind, int(c), args.seconds, thinks[mode], args.workers, args.warmup, args.items)
        for kind in args.databases.split(",")
        for mode in args.modes.split(",")
        for c in args.concurrency.split(",")
        for _ in range(args.repeat)
    ]
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "think_s": args.think,
        "seconds_per_run": args.seconds,
        "warmup_s": args.warmup,
        "target": f"p99 <= {TARGET_P99_MS} ms at 50 annotators on PostgreSQL",
        "runs": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "annotators.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2) if args.json else table(rows))
    if not all(passed(r) for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
