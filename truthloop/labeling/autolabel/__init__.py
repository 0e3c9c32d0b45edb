"""Automated labeling: the model labels what it is sure of, at a guaranteed accuracy, and people
label the rest in the most useful order (Ground Truth's automated data labeling).

    job = create_autolabel_job(session, JobSpec(...), AutoLabelSpec(target_accuracy=0.95))
    # people label the released batch through next_task/submit, then:
    advance(project, job.name)   # train, threshold, machine-label, release the next batch

Each iteration:
1. people label a batch (the first drawn at random, `validation_size` items larger: those
   are held out as the validation set, which the model never trains on; a chained job's first
   batch is the validation set alone, as its initial model is ready to label);
2. a model trains on everything else people labeled (from the previous iteration's model, or
   the job's `initial_model`: job chaining; with nothing new to learn from, the initial model
   serves as it is);
3. it predicts the unlabeled items and the validation set;
4. the threshold is the lowest confidence at which the validation items at or above it meet the
   target accuracy on the Clopper–Pearson bound (`truthloop.core.thresholds`); if none does,
   nothing is machine-labeled this round;
5. unlabeled items at or above it are labeled by the machine (source MODEL, `human-annotated:
   no`, with their confidence); the next batch is the most uncertain items, spread out
   (`truthloop.core.sampling`), or a random draw when the job's sampling is "random"; people
   see the model's labels of its training items as proposals to accept or correct
   (`pre_annotate`; verifying a box takes a person a fraction of drawing it), while the
   validation items come without, so that people's labels of them owe nothing to the model
   they judge;
6. until every item is labeled, or the budget cannot pay for another batch (the job stops).

How big each batch is, when the model gets one more round on the last few items, and when the
validation set grows is the round policy, pure and explained in `truthloop.core.rounds`. The
modules: `loop` (the workflow: `advance` gathers a round's inputs, runs the model round, records
it and releases the next batch), `spec` (the terms and their checks), `round` (the round's model:
trained, asked and judged on the validation set), `model` (which model, trained and asked
through the registry), `items` (how the items are held back from people and released).
"""
from truthloop.labeling.autolabel.loop import (
    Iteration,
    advance,
    autolabel_terms,
    create_autolabel_job,
    iterations,
    run_autolabel,
)
from truthloop.labeling.autolabel.spec import AutoLabelSpec, Sampling, check_autolabel_spec

__all__ = [
    "AutoLabelSpec",
    "Iteration",
    "Sampling",
    "advance",
    "autolabel_terms",
    "check_autolabel_spec",
    "create_autolabel_job",
    "iterations",
    "run_autolabel",
]
