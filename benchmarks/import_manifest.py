"""Import a generated Ground Truth box manifest into SQLite and PostgreSQL, then export it back.

    .venv/bin/python benchmarks/import_manifest.py [--lines 1000000]
        [--paths library,cli,http,stages]

Three paths: the library call (`import_dataset`), the CLI (`truthloop dataset import`, start-up
included) and HTTP (the manifest streamed to `POST /api/datasets/{name}/import` of the portal
under uvicorn on loopback, timed to its answer).

A fourth, `stages`, times the two stages of an import apart in one process (reading lines into
rows, storing the rows), in microseconds of CPU a line: what bounds the rate on two cores.

Each (database, size) run happens in a fresh child process so that its peak RSS is its own.
Image files are not needed: the import does not open them (`--verify-images` is the opt-in).
Targets: ≥ 20,000 lines/s into each database, peak memory that does not grow with the file, and
export at a similar rate (issue 2); ≥ 52,000 lines/s over the CLI and HTTP at 100,000 lines
(issue 18: 10x Label Studio's 5,200 measured here). Prints a table and writes
benchmarks/results/import_manifest.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results"
CLASSES = {"0": "acme", "1": "globex", "2": "initech", "3": "umbrella"}


def write_manifest(path: Path, lines: int) -> None:
    """Lines like Ground Truth writes them: 1-3 boxes each, class map, confidences."""
    with path.open("wb") as f:
        for i in range(lines):
            n = 1 + i % 3
            boxes = [
                {
                    "class_id": (i + k) % 4,
                    "left": 10 + 7 * k,
                    "top": 20 + 5 * k,
                    "width": 60,
                    "height": 40,
                }
                for k in range(n)
            ]
            line = {
                "source-ref": f"s3://bench-bucket/images/{i:08d}.jpg",
                "bb": {
                    "image_size": [{"width": 640, "height": 480, "depth": 3}],
                    "annotations": boxes,
                },
                "bb-metadata": {
                    "objects": [{"confidence": 0.9} for _ in boxes],
                    "class-map": {str(b["class_id"]): CLASSES[str(b["class_id"])] for b in boxes},
                    "type": "groundtruth/object-detection",
                    "human-annotated": "yes",
                    "creation-date": "2026-11-21T10:00:00.000000",
                    "job-name": "bench",
                },
            }
            f.write(orjson.dumps(line) + b"\n")


def first_lines(source: Path, dest: Path, lines: int) -> None:
    with source.open("rb") as src, dest.open("wb") as out:
        for _ in range(lines):
            out.write(src.readline())


def run_one(database_url: str, manifest: str, home: str, queue: multiprocessing.Queue) -> None:
    from truthloop.datasets.exporting import export_dataset
    from truthloop.datasets.importing import import_dataset
    from truthloop.storage.project import Project

    with Project.init(home, database_url=database_url) as project:
        start = time.perf_counter()
        report = import_dataset(project, "bench", manifest, fmt="groundtruth")
        imported_s = time.perf_counter() - start
        import_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # A large file is read in a child process (truthloop.datasets.reading): its memory too.
        reader_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        exported = export_dataset(project, "bench", Path(home) / "out.manifest", fmt="groundtruth")
        exported_s = time.perf_counter() - start
    queue.put(
        {
            "imported": report.imported,
            "import_seconds": imported_s,
            "exported": exported.exported,
            "export_seconds": exported_s,
            "import_peak_rss_mb": import_rss / 1024,
            "reader_peak_rss_mb": reader_rss / 1024,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def in_child(
    run: Callable[..., None], database_url: str, manifest: Path, home: Path
) -> dict[str, float]:
    """What `run` measures, in a fresh process (so peak memory is the import's own)."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=run, args=(database_url, str(manifest), str(home), queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def measure(database_url: str, manifest: Path, home: Path) -> dict[str, float]:
    return in_child(run_one, database_url, manifest, home)


def measure_cli(database_url: str, manifest: Path, home: Path) -> dict[str, float]:
    """`truthloop dataset import` as a user runs it: start-up included (`startup_seconds` is a
    one-line import's whole run, so the rest is the import itself)."""
    import os
    import subprocess

    from truthloop.storage.project import Project

    with Project.init(home, database_url=database_url):
        pass
    env = {**os.environ, "TRUTHLOOP_HOME": str(home), "TRUTHLOOP_DATABASE_URL": database_url}
    command = [str(Path(sys.executable).with_name("truthloop")), "dataset", "import"]
    one = home / "one.manifest"
    one.write_text('{"source-ref": "s3://bench-bucket/startup.jpg"}\n')
    start = time.perf_counter()
    subprocess.run([*command, "startup", str(one), "-f", "groundtruth", "--json"], env=env,
                   check=True, capture_output=True)
    startup_s = time.perf_counter() - start
    start = time.perf_counter()
    out = subprocess.run([*command, "bench", str(manifest), "-f", "groundtruth", "--json"],
                         env=env, check=True, capture_output=True)
    seconds = time.perf_counter() - start
    report = json.loads(out.stdout)
    return {
        "imported": report["imported"],
        "seconds": seconds,
        "startup_seconds": startup_s,
        # The CLI and, for a large file, its reading child: the largest of them.
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def run_http(database_url: str, manifest: str, home: str, queue: multiprocessing.Queue) -> None:
    """The portal under uvicorn on loopback (a thread of this process) and a client streaming
    the manifest to POST /api/datasets/bench/import in 1 MiB chunks, until its 201."""
    import threading

    import httpx
    import uvicorn

    from truthloop import people
    from truthloop.storage.project import Project
    from truthloop.web.app import create_app

    with Project.init(home, database_url=database_url) as project:
        with project.session() as session:
            user = people.add_user(session, "bench", password=None, role=people.Role.MANAGER)
            token = people.create_api_token(session, user, "bench")
        server = uvicorn.Server(uvicorn.Config(create_app(project), host="127.0.0.1", port=0,
                                               log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]

        def chunks() -> Iterator[bytes]:
            with open(manifest, "rb") as f:
                while chunk := f.read(1 << 20):
                    yield chunk

        start = time.perf_counter()
        response = httpx.post(
            f"http://127.0.0.1:{port}/api/datasets/bench/import?format=groundtruth",
            content=chunks(), headers={"Authorization": f"Bearer {token}"}, timeout=600,
        )
        seconds = time.perf_counter() - start
        server.should_exit = True
        thread.join(timeout=10)
    response.raise_for_status()
    queue.put({
        "imported": response.json()["imported"],
        "seconds": seconds,
        "status": response.status_code,
        "peak_rss_mb": max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                           resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024,
    })


def measure_http(database_url: str, manifest: Path, home: Path) -> dict[str, float]:
    return in_child(run_http, database_url, manifest, home)


def run_stages(database_url: str, manifest: str, home: str, queue: multiprocessing.Queue) -> None:
    """The CPU a line costs in each stage of an import, timed apart in one process: reading it
    into rows (what the reading child does for a large file) and storing them (what the
    importing process does), the latter as the whole in-process import less the reading. A
    rate above 1 / (read + store) on two cores would need both fully busy all the time."""
    from truthloop.datasets import reading
    from truthloop.datasets.bulk import old_objects_frozen
    from truthloop.datasets.importing import import_dataset, source_spec
    from truthloop.storage.project import Project

    with Project.init(home, database_url=database_url) as project:
        source = source_spec(project, manifest, "groundtruth")
        batches = reading.BatchReader(source, reading.Rules(skip_errors=False))
        start = time.perf_counter()
        with old_objects_frozen():
            lines = sum(len(batch.rows) for batch in batches)
        read_s = time.perf_counter() - start
        start = time.perf_counter()
        report = import_dataset(project, "bench", manifest, fmt="groundtruth", read_in_child=False)
        whole_s = time.perf_counter() - start
    assert lines == report.imported
    queue.put({
        "imported": report.imported,
        "seconds": whole_s,
        "read_us_per_line": read_s / lines * 1e6,
        "store_us_per_line": (whole_s - read_s) / lines * 1e6,
        "two_core_ceiling_lines_per_s": 2 * lines / whole_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    })


def measure_stages(database_url: str, manifest: Path, home: Path) -> dict[str, float]:
    return in_child(run_stages, database_url, manifest, home)


def postgres_url() -> str | None:
    """A fresh database on the local server, or None when PostgreSQL is not reachable."""
    try:
        import psycopg

        name = f"truthloop_bench_{int(time.time())}"
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:5432/{name}"
    except Exception as error:
        print(f"PostgreSQL skipped: {error}", file=sys.stderr)
        return None


def drop_postgres(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument(
        "--small", type=int, default=100_000, help="the smaller size for the RSS comparison"
    )
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument(
        "--paths", default="library,cli,http,stages",
        help="what imports: the library call, `truthloop dataset import`, the HTTP upload;"
        " stages: the CPU a line costs reading and storing, timed apart in one process",
    )
    parser.add_argument("--json", action="store_true", help="print the JSON instead of the table")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory(prefix="truthloop-bench-") as tmp:
        work = Path(tmp)
        big = work / "big.manifest"
        start = time.perf_counter()
        write_manifest(big, args.lines)
        print(f"wrote {args.lines:,} lines in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        sizes = sorted({min(args.small, args.lines), args.lines})
        for size in sizes:
            manifest = big if size == args.lines else work / f"{size}.manifest"
            if size != args.lines:
                first_lines(big, manifest, size)
            for database in args.databases.split(","):
                for path in args.paths.split(","):
                    home = work / f"{database}-{size}-{path}"
                    if database == "sqlite":
                        url = f"sqlite:///{home / 'truthloop.db'}"
                    else:
                        server = postgres_url()
                        if server is None:
                            continue
                        url = server
                    print(f"{database}: {path} importing {size:,} lines ...", file=sys.stderr)
                    if path == "library":
                        result = measure(url, manifest, home)
                        seconds = result["import_seconds"]
                    else:
                        measured = {"cli": measure_cli, "http": measure_http,
                                    "stages": measure_stages}[path]
                        result = measured(url, manifest, home)
                        seconds = result["seconds"]
                    if database == "postgresql":
                        drop_postgres(url)
                    if result["imported"] != size:
                        raise SystemExit(f"{path}: imported {result['imported']} of {size}")
                    rows.append(
                        {
                            "database": database,
                            "path": path,
                            "lines": size,
                            "import_lines_per_s": result["imported"] / seconds,
                            **result,
                        }
                    )

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "import_manifest.json"
    out.write_text(json.dumps({"target_lines_per_s": 52_000, "runs": rows}, indent=2))
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Ground Truth box manifest: import (target ≥ 52,000 lines/s) and export")
    for column in (
        "database",
        "path",
        "lines",
        "import lines/s",
        "import s",
        "peak RSS MB",
        "reader RSS MB",
        "export lines/s",
        "read µs/line",
        "store µs/line",
    ):
        table.add_column(column, justify="right")
    for r in rows:
        library = r["path"] == "library"
        table.add_row(
            r["database"],
            r["path"],
            f"{r['lines']:,}",
            f"{r['import_lines_per_s']:,.0f}",
            f"{r['import_seconds' if library else 'seconds']:.2f}",
            f"{r['import_peak_rss_mb' if library else 'peak_rss_mb']:.0f}",
            f"{r['reader_peak_rss_mb']:.0f}" if library else "",
            f"{r['exported'] / r['export_seconds']:,.0f}" if library else "",
            f"{r['read_us_per_line']:.1f}" if r["path"] == "stages" else "",
            f"{r['store_us_per_line']:.1f}" if r["path"] == "stages" else "",
        )
    Console(width=150).print(table)  # whole columns in a log or a pipe too
    print(f"written: {out}")


if __name__ == "__main__":
    main()
