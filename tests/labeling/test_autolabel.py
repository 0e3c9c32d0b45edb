"""Automated labeling end to end with FakeModel and the simulated workforce: machine labels only
at or above the threshold, validation never trained on, iterations recorded, budget kept,
chaining labels from the first iteration."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.labeling.colours import FAKE, colour_dataset, colour_images, job_spec, workforce
from truthloop.core.confidence import empty_share
from truthloop.core.correctness import is_correct
from truthloop.core.rounds import (
    another_round_pays,
    within_a_batch_of_target,
)
from truthloop.core.serialize import value_from_json
from truthloop.core.thresholds import Coverage
from truthloop.core.types import (
    Annotation,
    Box,
    Boxes,
    Classification,
    ImageRecord,
    ImageSize,
    LabelSet,
    Source,
    Value,
)
from truthloop.errors import InputError
from truthloop.labeling import JobSpec, TaskType, export_manifest, get_job
from truthloop.labeling.autolabel import (
    AutoLabelSpec,
    Iteration,
    Sampling,
    advance,
    autolabel_terms,
    create_autolabel_job,
    items,
    iterations,
    run_autolabel,
)
from truthloop.labeling.autolabel.round import ModelRound
from truthloop.ml.fake import FakeModel, _digest
from truthloop.ml.registry import get_version
from truthloop.ml.versions import load_model
from truthloop.people import add_team
from truthloop.sim.workforce import SimulatedWorkforce, WorkerProfile
from truthloop.storage import datasets as store
from truthloop.storage.project import Project
from truthloop.storage.tables import (
    AnnotationRow,
    AutoLabelValidationRow,
    ItemRow,
    JobRow,
    SubmissionRow,
    TaskRow,
)


def _final_model(
    project: Project, dataset: str, terms: AutoLabelSpec, crowd: SimulatedWorkforce
) -> str | None:
    """Run job "job1" on `dataset` to its end; the version of its last model."""
    job = create_autolabel_job(project, job_spec("job1", dataset), terms)
    run_autolabel(project, job, crowd.work)
    with project.session() as session:
        row = autolabel_terms(session, get_job(session, job))
        return row.latest_model if row else None


def _colour_job(
    project: Project, tmp_path: Path, images: int, *, seed: int, separable: bool = True,
    **terms: object,
) -> tuple[int, dict[str, Value]]:
    """Job "auto" over `images` colour images, with the fake model; the job and their truth."""
    truth = colour_images(tmp_path / "img", images, seed=seed, separable=separable)
    colour_dataset(project, "colours", truth)
    spec = AutoLabelSpec(**{**FAKE, **terms})  # type: ignore[arg-type]
    return create_autolabel_job(project, job_spec("auto"), spec), truth


def _labels(project: Project, job: str) -> list[tuple[str, Source, Value]]:
    with project.session() as session:
        rows = session.execute(
            select(ItemRow.uri, AnnotationRow.source, AnnotationRow.kind, AnnotationRow.value)
            .join(ItemRow, ItemRow.id == AnnotationRow.item_id)
            .where(AnnotationRow.job_name == job)
        )
        return [(uri, Source(src), value_from_json(kind, data)) for uri, src, kind, data in rows]


def test_the_loop_labels_everything_and_machine_labels_meet_the_threshold(
    project: Project, tmp_path: Path
) -> None:
    """On SQLite and on PostgreSQL."""
    truth = colour_images(tmp_path / "img", 200, seed=1)
    colour_dataset(project, "colours", truth)
    crowd = workforce(project, truth)
    job = create_autolabel_job(
        project,
        job_spec("auto", price_per_task=0.1),
        AutoLabelSpec(batch_size=70, validation_size=60, compute_price_per_hour=3.6, **FAKE),  # type: ignore[arg-type]
    )
    done = run_autolabel(project, job, crowd.work)

    # 130 to people (60 held out), the model trained on 70; all 60 validation items right at
    # 0.6, the bound 4.9 %: the other 70 are machine-labeled.
    assert [(i.human_labeled, i.machine_labeled, i.validation_items) for i in done] == [
        (130, 70, 60)
    ]
    assert done[0].threshold == pytest.approx(0.6)
    assert done[0].validation_accuracy == 1.0
    assert done[0].accuracy_bound == pytest.approx(0.05 ** (1 / 60))
    assert done[-1].remaining == 0
    assert done[0].cost == pytest.approx(130 * 0.1 + done[0].compute_seconds / 1000)
    labels = _labels(project, "auto")
    assert len(labels) == 200 and len({uri for uri, _, _ in labels}) == 200
    machine = [(uri, v) for uri, src, v in labels if src is Source.MODEL]
    assert len(machine) == 70
    assert all(v.confidence is not None and v.confidence >= 0.6 for _, v in machine)  # type: ignore[union-attr]
    # checked against the hidden truth, which the model never saw for these items
    assert all(truth[uri] == Classification(v.label) for uri, v in machine)  # type: ignore[union-attr]
    with project.session() as session:
        assert get_job(session, job).status == "completed"
        assert [i.number for i in iterations(session, job)] == [1]
        export_manifest(session, job, tmp_path / "out.manifest")
    assert (tmp_path / "out.manifest").read_text().count('"human-annotated":"no"') == 70


def test_validation_items_are_never_trained_on(sqlite_project: Project, tmp_path: Path) -> None:
    truth = colour_images(tmp_path / "img", 120, seed=2)
    colour_dataset(sqlite_project, "colours", truth)
    crowd = workforce(sqlite_project, truth)
    job = create_autolabel_job(
        sqlite_project, job_spec("auto"), AutoLabelSpec(batch_size=40, validation_size=30, **FAKE)  # type: ignore[arg-type]
    )
    crowd.work(job)
    first = advance(sqlite_project, job)
    assert first is not None and first.model_version is not None
    model = load_model(sqlite_project, get_version(sqlite_project, first.model_version))
    assert isinstance(model, FakeModel)
    remembered = {digest for digest, *_ in model.memory_}
    with sqlite_project.session() as session:
        held = session.scalars(
            select(ItemRow.uri)
            .join(AutoLabelValidationRow, AutoLabelValidationRow.item_id == ItemRow.id)
            .where(AutoLabelValidationRow.job_id == job)
        ).all()
    assert len(held) == 30
    assert not remembered & {_digest(sqlite_project.load_image(uri)) for uri in held}
    assert len(remembered) == 40  # the rest of the first batch


def test_nothing_is_machine_labeled_when_no_threshold_qualifies(
    sqlite_project: Project, tmp_path: Path
) -> None:
    job, truth = _colour_job(
        sqlite_project, tmp_path, 200, seed=3, separable=False, batch_size=40, validation_size=60
    )
    done = run_autolabel(sqlite_project, job, workforce(sqlite_project, truth).work)
    assert sum(i.machine_labeled for i in done) == 0
    assert all(i.threshold is None for i in done)
    assert sum(i.human_labeled for i in done) == 200
    assert len(done) > 2 and all(i.model_version for i in done[:-1])
    with sqlite_project.session() as session:
        # the model disputes half of what people say: no second opinions on its own errors
        assert len(session.scalars(select(SubmissionRow.id)).all()) == 200


def test_people_see_the_models_labels_on_training_items_but_not_on_validation_items(
    sqlite_project: Project, tmp_path: Path
) -> None:
    job, truth = _colour_job(
        sqlite_project, tmp_path, 200, seed=3, separable=False, batch_size=40, validation_size=60
    )
    crowd = workforce(sqlite_project, truth)
    assert crowd.work(job).actions == {"classify": 100}  # no model yet: nothing proposed
    first = advance(sqlite_project, job)
    assert first is not None and first.machine_labeled == 0
    with sqlite_project.session() as session:
        row = get_job(session, job)
        assert row.proposals == "auto-proposals"
        released = items.batch_items(session, row, 2)
        proposals = session.execute(
            select(
                ItemRow.id, ItemRow.uri, AnnotationRow.job_name, AnnotationRow.kind,
                AnnotationRow.value,
            )
            .join(ItemRow, ItemRow.id == AnnotationRow.item_id)
            .where(AnnotationRow.attribute == "auto-proposals")
        ).all()
        proposed_ids = {item_id for item_id, *_ in proposals}
        assert proposed_ids == released and not released & items.validation_ids(session, row)
    assert len(proposals) == 40
    assert {made_by for _, _, made_by, _, _ in proposals} == {first.model_version}
    right = sum(
        is_correct(value_from_json(kind, v), truth[uri]) for _, uri, _, kind, v in proposals
    )
    # the workers accept the model's right guesses at a glance and classify the rest
    second = crowd.work(job)
    assert second.actions == {"verify_label": right, "classify": 40 - right}
    assert 0 < right < 40


def test_pre_annotation_can_be_turned_off(sqlite_project: Project, tmp_path: Path) -> None:
    job, truth = _colour_job(
        sqlite_project, tmp_path, 200, seed=3, separable=False, batch_size=40,
        validation_size=60, pre_annotate=False,
    )
    crowd = workforce(sqlite_project, truth)
    crowd.work(job)
    assert advance(sqlite_project, job) is not None
    assert crowd.work(job).actions == {"classify": 40}
    with sqlite_project.session() as session:
        assert get_job(session, job).proposals is None
        model_made = select(AnnotationRow.id).where(AnnotationRow.source == "model")
        assert session.scalar(model_made) is None


def test_pre_annotation_refuses_proposals_of_another_attribute(
    sqlite_project: Project, tmp_path: Path
) -> None:
    truth = colour_images(tmp_path / "img", 20, seed=3)
    colour_dataset(sqlite_project, "colours", truth)
    with pytest.raises(InputError, match="turn pre-annotation off"):
        create_autolabel_job(
            sqlite_project, job_spec("auto", proposals="theirs"), AutoLabelSpec(**FAKE)  # type: ignore[arg-type]
        )
    with sqlite_project.session() as session:
        assert session.scalar(select(JobRow.id)) is None


def _lifetime_runs_out(project: Project, job: int) -> None:
    """As if the task lifetime had passed: the released slots people left are out of time."""
    with project.session() as session:
        session.execute(
            update(TaskRow)
            .where(TaskRow.job_id == job, TaskRow.available_until > items.HELD)
            .values(available_until=datetime(2000, 1, 1))
        )


def test_a_first_batch_nobody_took_is_drawn_again(sqlite_project: Project, tmp_path: Path) -> None:
    job, truth = _colour_job(
        sqlite_project, tmp_path, 120, seed=6, batch_size=40, validation_size=30
    )
    _lifetime_runs_out(sqlite_project, job)
    empty = advance(sqlite_project, job)
    assert empty is not None
    assert (empty.human_labeled, empty.machine_labeled, empty.model_version) == (0, 0, None)
    with sqlite_project.session() as session:
        row = get_job(session, job)
        assert items.open_released(session, row) == 70 and row.status == "in-progress"
        assert len(items.validation_ids(session, row)) == 30
    done = run_autolabel(sqlite_project, job, workforce(sqlite_project, truth).work)
    assert done[-1].remaining == 0


def test_items_nobody_labeled_in_time_go_back_to_the_pool_and_the_loop_goes_on(
    sqlite_project: Project, tmp_path: Path
) -> None:
    job, truth = _colour_job(
        sqlite_project, tmp_path, 120, seed=6, batch_size=40, validation_size=30
    )
    crowd = workforce(sqlite_project, truth)
    assert crowd.work(job, max_tasks=50).tasks == 50  # of the 70 released
    assert advance(sqlite_project, job) is None  # people are still at work
    _lifetime_runs_out(sqlite_project, job)  # on the other 20
    first = advance(sqlite_project, job)
    assert first is not None and first.human_labeled == 50
    with sqlite_project.session() as session:
        row = get_job(session, job)
        labeled = {x.item_id for x in items.human_labeled(session, row)}
        validation = items.validation_ids(session, row)
        # the unlabeled left the validation set, which the next batch makes up again
        assert len(labeled) == 50 and len(validation) == 30
        assert validation - labeled <= items.batch_items(session, row, 2)
    assert first.validation_items == len(validation & labeled) < 30
    _lifetime_runs_out(sqlite_project, job)  # nobody takes the second batch either
    second = advance(sqlite_project, job)
    assert second is not None and second.human_labeled == 0
    with sqlite_project.session() as session:
        row = get_job(session, job)
        shown = select(AnnotationRow.item_id).where(AnnotationRow.attribute == "auto-proposals")
        # the second batch's proposals went with its items: what is shown is the third's
        third = items.batch_items(session, row, 3) - items.validation_ids(session, row)
        assert set(session.scalars(shown)) == third and third
    done = run_autolabel(sqlite_project, job, crowd.work)
    assert done[-1].remaining == 0
    assert len({uri for uri, _, _ in _labels(sqlite_project, "auto")}) == 120


def test_budget_is_respected(sqlite_project: Project, tmp_path: Path) -> None:
    truth = colour_images(tmp_path / "img", 150, seed=4)
    colour_dataset(sqlite_project, "colours", truth)
    job = create_autolabel_job(
        sqlite_project,
        job_spec("auto", price_per_task=1.0),
        AutoLabelSpec(batch_size=40, validation_size=60, budget=55.0, **FAKE),  # type: ignore[arg-type]
    )
    done = run_autolabel(sqlite_project, job, workforce(sqlite_project, truth).work)
    with sqlite_project.session() as session:
        tasks = len(session.scalars(select(SubmissionRow.id)).all())
        assert get_job(session, job).status == "stopped"
    assert tasks == 55
    assert sum(i.cost for i in done) == pytest.approx(55.0)


def test_random_sampling_is_the_control(sqlite_project: Project, tmp_path: Path) -> None:
    truth = colour_images(tmp_path / "img", 150, seed=5)
    colour_dataset(sqlite_project, "colours", truth)
    job = create_autolabel_job(
        sqlite_project,
        job_spec("auto"),
        AutoLabelSpec(batch_size=70, validation_size=60, sampling=Sampling.RANDOM, **FAKE),  # type: ignore[arg-type]
    )
    done = run_autolabel(sqlite_project, job, workforce(sqlite_project, truth).work)
    assert sum(i.human_labeled + i.machine_labeled for i in done) == 150


def test_a_chained_job_labels_from_its_first_iteration(
    sqlite_project: Project, tmp_path: Path
) -> None:
    first_half = colour_images(tmp_path / "a", 200, seed=6)
    second_half = colour_images(tmp_path / "b", 200, seed=7)
    colour_dataset(sqlite_project, "first", first_half)
    colour_dataset(sqlite_project, "second", second_half)
    crowd = workforce(sqlite_project, {**first_half, **second_half})
    terms = AutoLabelSpec(batch_size=70, validation_size=60, **FAKE)  # type: ignore[arg-type]
    model = _final_model(sqlite_project, "first", terms, crowd)
    assert model is not None
    chained = AutoLabelSpec(batch_size=70, validation_size=60, initial_model=model, **FAKE)  # type: ignore[arg-type]
    job2 = create_autolabel_job(sqlite_project, job_spec("job2", "second"), chained)
    with sqlite_project.session() as session:
        # the first release is the validation set alone: the initial model needs no batch
        first_release = items.open_released(session, get_job(session, job2))
    assert first_release == 60
    done = run_autolabel(sqlite_project, job2, crowd.work)
    # Iteration 1 thresholds the initial model on those 60 and machine-labels the other 140
    # (job 1's model guesses unseen images right at 0.6); nothing was trained for it.
    assert [(i.human_labeled, i.machine_labeled) for i in done] == [(60, 140)]
    assert done[0].model_version == model
    assert done[0].threshold == pytest.approx(0.6)
    machine = [(uri, v) for uri, src, v in _labels(sqlite_project, "job2") if src is Source.MODEL]
    assert len(machine) == 140
    assert all(second_half[uri] == Classification(v.label) for uri, v in machine)  # type: ignore[union-attr]


def test_a_chained_job_trains_from_its_initial_model_after_iteration_1(
    sqlite_project: Project, tmp_path: Path
) -> None:
    """Images the initial model cannot tell apart go to people; the next iteration's model
    is trained on them from the initial model."""
    first_half = colour_images(tmp_path / "a", 120, seed=14)
    second_half = colour_images(tmp_path / "b", 160, seed=15, separable=False)
    colour_dataset(sqlite_project, "first", first_half)
    colour_dataset(sqlite_project, "second", second_half)
    crowd = workforce(sqlite_project, {**first_half, **second_half})
    terms = AutoLabelSpec(batch_size=40, validation_size=60, **FAKE)  # type: ignore[arg-type]
    model = _final_model(sqlite_project, "first", terms, crowd)
    chained = AutoLabelSpec(batch_size=40, validation_size=60, initial_model=model, **FAKE)  # type: ignore[arg-type]
    job2 = create_autolabel_job(sqlite_project, job_spec("job2", "second"), chained)
    done = run_autolabel(sqlite_project, job2, crowd.work)
    assert done[0].human_labeled == 60 and done[0].model_version == model
    trained = [i.model_version for i in done if i.model_version != model]
    assert trained and get_version(sqlite_project, trained[0] or "").parent == model
    assert sum(i.human_labeled + i.machine_labeled for i in done) == 160


def _chained_job_with_a_sloppy_worker(
    project: Project, tmp_path: Path
) -> tuple[int, SimulatedWorkforce, str | None, dict[str, Value]]:
    """Job 2, chained from job 1's model, and its workforce: w1 gets every image wrong, five
    colleagues none (the job, the workforce, the initial model, job 2's truth)."""
    first_half = colour_images(tmp_path / "a", 200, seed=16)
    second_half = colour_images(tmp_path / "b", 200, seed=17)
    colour_dataset(project, "first", first_half)
    colour_dataset(project, "second", second_half)
    truth = {**first_half, **second_half}
    terms = AutoLabelSpec(batch_size=70, validation_size=60, **FAKE)  # type: ignore[arg-type]
    model = _final_model(project, "first", terms, workforce(project, truth))
    sloppy = SimulatedWorkforce(
        project,
        truth,
        [
            WorkerProfile("w1", class_error_rate=1.0),
            *(WorkerProfile(f"w{n}", class_error_rate=0.0) for n in range(2, 7)),
        ],
        team="sim",
    )
    chained = AutoLabelSpec(batch_size=70, validation_size=60, initial_model=model, **FAKE)  # type: ignore[arg-type]
    job2 = create_autolabel_job(project, job_spec("job2", "second"), chained)
    return job2, sloppy, model, second_half


def test_a_second_opinion_nobody_gives_in_time_leaves_the_first_label(
    sqlite_project: Project, tmp_path: Path
) -> None:
    job2, sloppy, model, _ = _chained_job_with_a_sloppy_worker(sqlite_project, tmp_path)
    sloppy.work(job2)
    first = advance(sqlite_project, job2)
    assert first is not None and first.threshold is None
    with sqlite_project.session() as session:
        assert items.open_released(session, get_job(session, job2)) == 10  # w1's, asked again
    _lifetime_runs_out(sqlite_project, job2)
    second = advance(sqlite_project, job2)
    assert second is not None and (second.human_labeled, second.human_seconds) == (0, 0)
    assert second.model_version == model and second.validation_accuracy == first.validation_accuracy
    with sqlite_project.session() as session:
        row = get_job(session, job2)
        labeled = {x.item_id for x in items.human_labeled(session, row)}
        assert items.validation_ids(session, row) <= labeled  # each keeps w1's label


def test_a_second_person_labels_validation_items_the_model_disputes(
    sqlite_project: Project, tmp_path: Path
) -> None:
    """w1 labels every image wrong (one in six: it has five colleagues); where the model
    disagrees with w1 on a validation item, someone else labels it too, and the model that
    agrees with them is counted right: the same model then machine-labels what it could not
    before."""
    job2, sloppy, model, second_half = _chained_job_with_a_sloppy_worker(sqlite_project, tmp_path)
    done = run_autolabel(sqlite_project, job2, sloppy.work)

    first, second = done
    assert (first.human_labeled, first.machine_labeled, first.threshold) == (60, 0, None)
    assert 0 < first.validation_accuracy < 1  # type: ignore[operator]
    # the second round: second opinions on w1's ten, the same model, every validation item right
    assert second.human_labeled == 0 and second.human_seconds > 0
    assert second.model_version == model
    assert (second.machine_labeled, second.validation_accuracy) == (140, 1.0)
    with sqlite_project.session() as session:
        answers = session.execute(
            select(SubmissionRow.item_id, SubmissionRow.worker_id).where(
                SubmissionRow.job_id == job2
            )
        ).all()
    per_item: dict[int, list[int]] = {}
    for item_id, worker in answers:
        per_item.setdefault(item_id, []).append(worker)
    twice = [workers for workers in per_item.values() if len(workers) > 1]
    assert len(per_item) == 60 and len(twice) == 10
    assert all(len(set(workers)) == 2 for workers in twice)  # never the same person twice
    machine = [(uri, v) for uri, src, v in _labels(sqlite_project, "job2") if src is Source.MODEL]
    assert all(second_half[uri] == Classification(v.label) for uri, v in machine)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        (AutoLabelSpec(target_accuracy=1.0), "target accuracy"),
        (AutoLabelSpec(confidence=0.2), "confidence"),
        (AutoLabelSpec(batch_size=0), "batch size"),
        (AutoLabelSpec(budget=-1.0), "budget"),
        (AutoLabelSpec(compute_price_per_hour=float("nan")), "compute price"),
        (AutoLabelSpec(train_passes=0), "train passes"),
        (AutoLabelSpec(validation_max=0), "validation max"),
        (AutoLabelSpec(validation_size=80, validation_max=60), "at least the validation size"),
    ],
)
def test_bad_terms_are_refused_and_nothing_is_stored(
    sqlite_project: Project, tmp_path: Path, terms: AutoLabelSpec, message: str
) -> None:
    colour_dataset(sqlite_project, "colours", colour_images(tmp_path / "img", 4, seed=8))
    workforce(sqlite_project, {})
    with pytest.raises(InputError, match=message):
        create_autolabel_job(sqlite_project, job_spec("auto"), terms)
    with sqlite_project.session() as session:
        assert session.scalar(select(AnnotationRow.id)) is None


def test_a_verification_job_cannot_autolabel(sqlite_project: Project, tmp_path: Path) -> None:
    colour_dataset(sqlite_project, "colours", colour_images(tmp_path / "img", 4, seed=9))
    workforce(sqlite_project, {})
    spec = job_spec("auto", proposals="x")
    with pytest.raises(InputError, match="automated labeling works for"):
        create_autolabel_job(
            sqlite_project,
            JobSpec(**{**spec.__dict__, "task_type": TaskType.VERIFICATION}),
            AutoLabelSpec(),
        )


def test_advance_on_a_plain_job_is_an_error(sqlite_project: Project, tmp_path: Path) -> None:
    from truthloop.labeling import create_job

    colour_dataset(sqlite_project, "colours", colour_images(tmp_path / "img", 4, seed=10))
    workforce(sqlite_project, {})
    with sqlite_project.session() as session:
        create_job(session, job_spec("plain"))
    with pytest.raises(InputError, match="automated labeling on"):
        advance(sqlite_project, "plain")


def test_advance_waits_for_people(sqlite_project: Project, tmp_path: Path) -> None:
    truth = colour_images(tmp_path / "img", 100, seed=11)
    colour_dataset(sqlite_project, "colours", truth)
    job = create_autolabel_job(
        sqlite_project,
        job_spec("auto"),
        AutoLabelSpec(batch_size=30, validation_size=30, **FAKE),  # type: ignore[arg-type]
    )
    crowd = workforce(sqlite_project, truth)
    crowd.work(job, max_tasks=59)
    assert advance(sqlite_project, job) is None
    assert crowd.work(job).tasks == 1  # only the released batch is handed out
    assert advance(sqlite_project, job) is not None


def test_a_box_job_machine_labels_whole_images_it_is_sure_of(
    sqlite_project: Project, tmp_path: Path
) -> None:
    """Reddish images hold one "red" box, bluish ones nothing; the model guesses unseen images
    from the nearest colour at 0.6, an empty guess being as sure as people's labels say empty
    images are common (about half of them here)."""
    colours = colour_images(tmp_path / "img", 200, seed=12)
    truth: dict[str, Value] = {
        uri: Boxes((Box("red", 1, 1, 4, 4),) if v == Classification("red") else ())
        for uri, v in colours.items()
    }
    colour_dataset(sqlite_project, "colours", colours)
    params = {"task": "detection", "guess_confidence": 0.6}
    job = create_autolabel_job(
        sqlite_project,
        JobSpec(name="boxes", dataset="colours", task_type=TaskType.BOUNDING_BOX, team="sim"),
        AutoLabelSpec(batch_size=70, validation_size=60, backend="fake", backend_params=params),
    )
    crowd = SimulatedWorkforce(
        sqlite_project, truth, [WorkerProfile("w", class_error_rate=0.0, box_jitter=0.0)],
        team="sim",
    )
    with sqlite_project.session() as session:
        validation = items.validation_ids(session, get_job(session, job))
        uris = {i: uri for i, uri in session.execute(select(ItemRow.id, ItemRow.uri))}
    done = run_autolabel(sqlite_project, job, crowd.work)
    learned = [
        v for uri, src, v in _labels(sqlite_project, "boxes")
        if src is Source.HUMAN and uri not in {uris[i] for i in validation}
    ]
    assert len(learned) == 70 and done[0].machine_labeled == 70
    assert done[0].threshold == pytest.approx(min(0.6, empty_share(learned) or 1.0))
    assert done[0].mean_iou == pytest.approx(1.0)
    machine = [(uri, v) for uri, src, v in _labels(sqlite_project, "boxes") if src is Source.MODEL]
    assert len(machine) == 70
    assert all(is_correct(v, truth[uri]) for uri, v in machine)


def test_an_initial_model_of_another_task_is_refused(
    sqlite_project: Project, tmp_path: Path
) -> None:
    from truthloop.ml.registry import train_version

    truth = colour_images(tmp_path / "img", 10, seed=13)
    with sqlite_project.session() as session:
        add_team(session, "sim")
        dataset = store.create_dataset(session, "labeled", LabelSet.from_names(["red", "blue"]))
        records = [ImageRecord(uri, ImageSize(8, 8), (Annotation(v),)) for uri, v in truth.items()]
        store.insert_items(session, dataset.id, [store.NewItem(r) for r in records])
    version = train_version(
        sqlite_project, "colours-model", dataset="labeled", task="classification",
        model=FakeModel(),
    )
    spec = JobSpec(name="boxes", dataset="labeled", task_type=TaskType.BOUNDING_BOX, team="sim")
    with pytest.raises(InputError, match="does classification"):
        create_autolabel_job(sqlite_project, spec, AutoLabelSpec(initial_model=version.name))
    with sqlite_project.session() as session:
        assert session.scalar(select(JobRow.id)) is None


@pytest.mark.parametrize(
    ("terms", "size", "most"),
    [
        (AutoLabelSpec(), 150, 200),  # an eighth of 1,200 items, growing to a sixth
        (AutoLabelSpec(validation_size=150), 150, None),  # a size given stays as it is
        (AutoLabelSpec(validation_size=150, validation_max=240), 150, 240),
    ],
)
def test_the_validation_set_starts_at_an_eighth_and_may_grow_to_a_sixth(
    sqlite_project: Project, tmp_path: Path, terms: AutoLabelSpec, size: int, most: int | None
) -> None:
    records = [ImageRecord(f"/x/{i}.png", ImageSize(8, 8)) for i in range(1200)]
    with sqlite_project.session() as session:
        dataset = store.create_dataset(session, "many", LabelSet.from_names(["red", "blue"]))
        store.insert_items(session, dataset.id, [store.NewItem(r) for r in records])
    workforce(sqlite_project, {})
    job = create_autolabel_job(sqlite_project, job_spec("auto", "many"), terms)
    with sqlite_project.session() as session:
        row = autolabel_terms(session, get_job(session, job))
        assert row is not None
        assert (row.validation_size, row.validation_max) == (size, most)
        assert len(items.validation_ids(session, get_job(session, job))) == size
        assert len(items.batch_items(session, get_job(session, job), 1)) == size + 120


def test_the_model_gets_a_round_on_the_last_few_items(
    sqlite_project: Project, tmp_path: Path
) -> None:
    # 200 items, a first batch of 120 + 60 held out: 20 are left, fewer than half a batch,
    # which people do not take with the first batch; the model labels them, being sure.
    truth = colour_images(tmp_path / "img", 200, seed=21)
    colour_dataset(sqlite_project, "colours", truth)
    job = create_autolabel_job(
        sqlite_project,
        job_spec("auto"),
        AutoLabelSpec(batch_size=120, validation_size=60, **FAKE),  # type: ignore[arg-type]
    )
    done = run_autolabel(sqlite_project, job, workforce(sqlite_project, truth).work)
    assert [(i.human_labeled, i.machine_labeled, i.remaining) for i in done] == [(180, 20, 0)]


def test_people_take_the_less_certain_half_of_a_short_pool_while_the_model_helps(
    sqlite_project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A model that is sure of (and labels) every other item it is shown, 50 items at a time
    # at most: after the first batch 70 are left, no more than a batch: people get 35, the
    # model labels its share of the rest, and so on while it is likely to label one.
    from truthloop.labeling.autolabel import loop

    def model_round(project, terms, labeled, validation, pool, **kwargs):
        sure = [i for n, (i, _) in enumerate(sorted(pool)) if n % 2 == 0][:50]
        found: dict[int, Value] = {i: Classification("red", 0.2) for i, _ in pool}
        found.update({i: Classification("red", 0.9) for i in sure})
        chosen = Coverage(0.5, 60, 0, 1.0, 0.95)
        scores = {i: (value, value.confidence or 1.0) for i, value in found.items()}
        return ModelRound(found, scores, chosen, chosen, None, None, (), None)

    monkeypatch.setattr(loop, "model_round", model_round)
    truth = colour_images(tmp_path / "img", 250, seed=22)
    colour_dataset(sqlite_project, "colours", truth)
    job = create_autolabel_job(
        sqlite_project,
        job_spec("auto"),
        AutoLabelSpec(batch_size=70, validation_size=60, **FAKE),  # type: ignore[arg-type]
    )
    done = run_autolabel(sqlite_project, job, workforce(sqlite_project, truth).work)
    # 250 - 130 = 120 left: 50 labeled, 70 left (<= a batch): 35 to people; of the other 35,
    # 18 labeled, 17 left: 9 to people, 4 of 8 labeled, 4 left: 2 to people, 1 of 2 labeled;
    # with one left the model could not be expected to label any: people take it.
    assert [(i.human_labeled, i.machine_labeled, i.remaining) for i in done] == [
        (130, 50, 70),
        (35, 18, 17),
        (9, 4, 4),
        (2, 1, 1),
        (1, 0, 0),
    ]


def test_another_round_is_given_only_when_it_saves_more_than_the_training_costs() -> None:
    # last round: 10 labeled of 20; of 10 unsure items people take 5, the model likely 2.5
    assert another_round_pays(10, 10, 10, training_cost=0.0, price=0.0)
    assert another_round_pays(10, 10, 10, training_cost=0.3, price=0.2)
    assert not another_round_pays(10, 10, 10, training_cost=0.3, price=0.1)
    assert not another_round_pays(0, 20, 10, training_cost=0.0, price=1.0)  # labeled nothing
    assert not another_round_pays(1, 9, 10, training_cost=0.0, price=1.0)  # likely 0.5 item


def _round(number: int, accuracy: float | None, version: str | None, machine: int = 0) -> Iteration:
    return Iteration(
        number=number, human_labeled=100, machine_labeled=machine, validation_items=125,
        threshold=None, validation_accuracy=accuracy, accuracy_bound=None, mean_iou=None,
        model_version=version, human_seconds=0.0, compute_seconds=0.0, cost=0.0, elapsed_s=0.0,
        remaining=500,
    )


def test_a_model_within_a_batch_of_the_target_gets_its_next_chance_after_half_a_batch() -> None:
    first, second = _round(1, 0.70, "v1"), _round(2, 0.84, "v2")
    assert not within_a_batch_of_target([first], 0.95)  # no pace to go by yet
    assert within_a_batch_of_target([first, second], 0.95)  # 0.84 + 0.14 passes 0.95
    # after second opinions, the same model is measured against the one before it
    assert within_a_batch_of_target([first, second, _round(3, 0.89, "v2")], 0.95)
    assert not within_a_batch_of_target([first, _round(2, 0.80, "v2")], 0.95)  # 0.90
    assert not within_a_batch_of_target([first, _round(2, 0.84, "v2", machine=10)], 0.95)
    assert not within_a_batch_of_target([first, _round(2, None, None)], 0.95)
