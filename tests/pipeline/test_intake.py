"""Intake: uploads and a watched folder are detected by the deployed version, logged, and the
unsure ones go to review; bad images are refused one by one, nothing is detected twice, and a
deployment during detections fails none of them."""

from __future__ import annotations

import threading
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select

from tests.ml.shapes import LABELS
from tests.pipeline.conftest import SEEN, UNSEEN, Line, incoming, png
from truthloop.errors import InputError
from truthloop.ml import registry, serving
from truthloop.ml.backend import Task
from truthloop.ml.fake import FakeModel
from truthloop.pipeline import get_pipeline, list_runs, set_deployed, set_param
from truthloop.pipeline.intake import NONE_OF_THE_ABOVE, Incoming, scan_intake, set_intake, submit
from truthloop.pipeline.training import check_training
from truthloop.storage.project import Project
from truthloop.storage.tables import HumanLoopRow, PipelineDetectionRow


def deploy_v1(line: Line) -> str:
    with line.project.session() as session:
        set_param(session, get_pipeline(session, "shapes"), "Minimum-F1-Score", 0.0)
    check = check_training(line.project, "shapes", on_demand=True)
    assert check.deployed, check
    return str(check.version)


def detections(project: Project) -> list[PipelineDetectionRow]:
    with project.session() as session:
        rows = session.scalars(select(PipelineDetectionRow).order_by(PipelineDetectionRow.id))
        return list(rows)


def loop_input(project: Project, name: str) -> dict[str, object]:
    with project.session() as session:
        loop = session.scalars(select(HumanLoopRow).where(HumanLoopRow.name == name)).one()
        return dict(orjson.loads(loop.input_content))


def test_unsure_images_go_to_review_and_every_one_is_logged(line: Line) -> None:
    version = deploy_v1(line)
    given = incoming(SEEN, "seen")[:3] + incoming(UNSEEN, "new")[:2]
    results = submit(line.project, "shapes", given)
    # What the FakeModel trained on it is sure of (95 %); the rest it guesses at 30 %. The
    # held-out share of SEEN is "new" to it too, so it is judged by its confidence, not by name.
    for result in results:
        assert result.version == version and result.error is None
        assert (result.loop is not None) == (
            result.confidence is not None and result.confidence < 70
        )
    assert [r.loop is not None for r in results][3:] == [True, True]
    logged = detections(line.project)
    assert [d.request_id for d in logged] == [r.request_id for r in results]
    first = logged[3]
    assert (first.version, first.minimum_confidence, first.review_enabled) == (version, 70.0, True)
    assert first.source == "upload" and len(first.sha256) == 64
    assert first.image_uri.endswith(f"pipeline/shapes/{first.sha256}.png")
    assert first.labels[0]["Confidence"] == pytest.approx(30.0)
    # The reviewer picks among the model's classes, or "None of the Above".
    content = loop_input(line.project, str(results[3].loop))
    assert content["labels"][-1] == NONE_OF_THE_ABOVE  # type: ignore[index]
    assert content["initialValue"] == first.labels[0]["Name"]
    with line.project.session() as session:
        [run] = list_runs(session, get_pipeline(session, "shapes"), kind="intake")
    assert run.status == "succeeded" and run.output == {"detected": 5, "reviews": 2}


def test_a_bad_image_is_refused_alone_and_the_others_go_on(line: Line) -> None:
    deploy_v1(line)
    huge = b"\x89PNG" + b"\0" * (line.project.settings.max_image_bytes + 10)
    given = [
        Incoming("broken.png", b"not an image at all"),
        Incoming("empty.png", b""),
        Incoming("huge.png", huge),
        *incoming(UNSEEN)[:1],
    ]
    results = submit(line.project, "shapes", given)
    assert [r.error is None for r in results] == [False, False, False, True]
    for result in results[:3]:
        assert result.name in str(result.error)
        assert result.request_id is None and result.loop is None
    assert len(detections(line.project)) == 1  # refused uploads are not logged


def test_without_a_deployed_version_every_image_goes_to_review(line: Line) -> None:
    results = submit(line.project, "shapes", incoming(UNSEEN)[:2])
    assert all(r.version is None and r.loop is not None for r in results)
    content = loop_input(line.project, str(results[0].loop))
    assert content["modelVersion"] is None and content["initialValue"] is None
    assert content["labels"] == [*LABELS, NONE_OF_THE_ABOVE]


def test_with_review_off_nothing_goes_to_review_but_everything_is_logged(line: Line) -> None:
    deploy_v1(line)
    with line.project.session() as session:
        set_param(session, get_pipeline(session, "shapes"), "Enable-A2I-Workflow", False)
    results = submit(line.project, "shapes", incoming(UNSEEN)[:2])
    assert [r.loop for r in results] == [None, None]
    assert [d.review_enabled for d in detections(line.project)] == [False, False]


def test_a_watched_folder_is_detected_once_across_restarts(line: Line, tmp_path: Path) -> None:
    deploy_v1(line)
    intake = line.project.home / "drop"
    intake.mkdir()
    (intake / "0.png").write_bytes(png(UNSEEN, 0))
    (intake / "sub").mkdir()
    (intake / "sub" / "1.png").write_bytes(png(UNSEEN, 1))
    (intake / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    (intake / "notes.txt").write_text("not an image")
    set_intake(line.project, "shapes", str(intake))
    first = scan_intake(line.project, "shapes")
    assert sorted(Path(r.name).name for r in first) == ["0.png", "1.png", "broken.jpg"]
    assert [r.error is not None for r in first if r.name.endswith("broken.jpg")] == [True]
    assert scan_intake(line.project, "shapes") == []
    # A new process (a restart) sees what the log holds: only the new file is detected.
    (intake / "2.png").write_bytes(png(UNSEEN, 2))
    with Project.open(line.project.home, database_url=line.project.db.url) as again:
        later = scan_intake(again, "shapes")
    assert [Path(r.name).name for r in later] == ["2.png"]
    logged = detections(line.project)
    assert len(logged) == 4 and len({d.intake_key for d in logged}) == 4


def test_an_intake_outside_the_home_and_roots_is_refused(line: Line, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    for bad in (str(outside), "../../etc", "s3://", "drop\x00"):
        with pytest.raises(InputError, match="intake location"):
            set_intake(line.project, "shapes", bad)
    with line.project.session() as session:
        assert get_pipeline(session, "shapes").intake_uri is None


def test_an_s3_intake_is_listed_and_detected(line: Line, s3_endpoint: str) -> None:
    import boto3

    deploy_v1(line)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    bucket = f"intake-{line.project.db.dialect}-{id(line) % 10_000}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="incoming/a.png", Body=png(UNSEEN, 0))
    s3.put_object(Bucket=bucket, Key="incoming/b.png", Body=png(UNSEEN, 1))
    line.project.settings.s3_endpoint_url = s3_endpoint
    with pytest.raises(InputError, match="outside the allowed S3 prefixes"):
        set_intake(line.project, "shapes", f"s3://{bucket}/incoming/")
    line.project.settings.allowed_s3_prefixes = (f"s3://{bucket}/incoming",)
    set_intake(line.project, "shapes", f"s3://{bucket}/incoming/")
    found = scan_intake(line.project, "shapes")
    assert sorted(r.name for r in found) == [
        f"s3://{bucket}/incoming/a.png",
        f"s3://{bucket}/incoming/b.png",
    ]
    assert scan_intake(line.project, "shapes") == []


def test_detections_during_a_deployment_never_fail(line: Line) -> None:
    """Blue/green: while v1 answers a stream of uploads, v2 is started, the pipeline points
    at it and v1 stops; every detection is answered, by one version or the other."""
    v1 = deploy_v1(line)
    v2 = registry.train_version(
        line.project,
        "shapes",
        dataset="shapes-train",
        task="classification",
        model=FakeModel(task=Task.CLASSIFICATION, guess_confidence=0.3),
    ).name
    errors: list[BaseException] = []
    answered: list[str | None] = []
    stop = threading.Event()

    def stream() -> None:
        try:
            while not stop.is_set():
                answered.extend(
                    r.version for r in submit(line.project, "shapes", incoming(UNSEEN)[:1])
                )
        except BaseException as error:
            errors.append(error)

    worker = threading.Thread(target=stream)
    worker.start()
    try:
        while len(answered) < 3:
            stop.wait(0.01)
        serving.start_version(line.project, v2)
        with line.project.session() as session:
            set_deployed(session, "shapes", v2, 12)
        serving.stop_version(line.project, v1)
        seen = len(answered)
        while len(answered) < seen + 3:
            stop.wait(0.01)
    finally:
        stop.set()
        worker.join()
    assert errors == []
    assert set(answered) <= {v1, v2} and answered[-1] == v2
    versions = [d.version for d in detections(line.project)]
    assert versions == answered
