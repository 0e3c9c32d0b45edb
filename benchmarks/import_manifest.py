"""Import a generated Ground Truth box manifest into SQLite and PostgreSQL, then export it back.

    .venv/bin/python benchmarks/import_manifest.py [--lines 1000000] [--json]

Each (database, size) run happens in a fresh child process so that its peak RSS is its own.
Image files are not needed: the import does not open them (`--verify-images` is the opt-in).
Target (issue 2): ≥ 20,000 lines/s into each database, peak memory that does not grow with the
file, and export at a similar rate. Prints a table and writes
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


def measure(database_url: str, manifest: Path, home: Path) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=run_one, args=(database_url, str(manifest), str(home), queue))
    child.start()
    result = queue.get()
    child.join()
    return result


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
                home = work / f"{database}-{size}"
                if database == "sqlite":
                    url = f"sqlite:///{home / 'truthloop.db'}"
                else:
                    server = postgres_url()
                    if server is None:
                        continue
                    url = server
                print(f"{database}: importing {size:,} lines ...", file=sys.stderr)
                result = measure(url, manifest, home)
                if database == "postgresql":
                    drop_postgres(url)
                rows.append(
                    {
                        "database": database,
                        "lines": size,
                        "import_lines_per_s": result["imported"] / result["import_seconds"],
                        "export_lines_per_s": result["exported"] / result["export_seconds"],
                        **result,
                    }
                )

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "import_manifest.json"
    out.write_text(json.dumps({"target_lines_per_s": 20_000, "runs": rows}, indent=2))
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Ground Truth box manifest: import and export (target ≥ 20,000 lines/s)")
    for column in (
        "database",
        "lines",
        "import lines/s",
        "export lines/s",
        "import peak RSS MB",
        "reader RSS MB",
        "import s",
        "export s",
    ):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(
            r["database"],
            f"{r['lines']:,}",
            f"{r['import_lines_per_s']:,.0f}",
            f"{r['export_lines_per_s']:,.0f}",
            f"{r['import_peak_rss_mb']:.0f}",
            f"{r['reader_peak_rss_mb']:.0f}",
            f"{r['import_seconds']:.1f}",
            f"{r['export_seconds']:.1f}",
        )
    Console().print(table)
    print(f"written: {out}")


if __name__ == "__main__":
    main()
