"""The terms of human review, each default and limit written once, as A2I's API states them
(botocore's `sagemaker` and `sagemaker-a2i-runtime` shapes): the review service checks them,
and the REST schema and the CLI take their defaults and bounds from here.

Plain values: the CLI reads its option defaults from here without importing the services.
"""

from __future__ import annotations

import re

from truthloop.core.job_terms import WholeNumberTerm

# FlowDefinitionName, HumanTaskUiName and HumanLoopName: lowercase letters, digits and single
# or repeated hyphens between them, at most 63 characters.
A2I_NAME = re.compile(r"[a-z0-9](-*[a-z0-9])*")
A2I_NAME_CHARS = 63

# TaskCount: "the number of distinct workers who will perform the same task on each object".
TASK_COUNT = WholeNumberTerm("workers per object (TaskCount)", 1, high=3)
# TaskTimeLimitInSeconds: A2I's default is an hour, and at least 30 seconds; the upper bound
# is Ground Truth's (job_terms.TASK_TIME_LIMIT_S).
TASK_TIME_LIMIT_S = WholeNumberTerm("task time limit (seconds)", 3600, low=30, high=28_800)
# TaskAvailabilityLifetimeInSeconds: A2I takes at least 60 seconds; a day by default, ten
# days at most, as for a private team's labeling tasks.
TASK_LIFETIME_S = WholeNumberTerm(
    "task availability lifetime (seconds)", 86_400, low=60, high=864_000
)

TASK_TITLE_CHARS = 128
TASK_DESCRIPTION_CHARS = 255
# InputContent: "serialized input from the human loop", a JSON string of at most 3 MiB.
MAX_INPUT_CONTENT_CHARS = 3_145_728
# ListHumanLoops: at most 100 a page.
MAX_RESULTS = 100
CONTENT_CLASSIFIERS = ("FreeOfPersonallyIdentifiableInformation", "FreeOfAdultContent")


def a2i_name_problem(kind: str, name: object) -> str | None:
    """Why `name` cannot name a `kind` (flow definition, human task UI, human loop)."""
    if isinstance(name, str) and len(name) <= A2I_NAME_CHARS and A2I_NAME.fullmatch(name):
        return None
    return (
        f"{kind} name {name!r} is not allowed: use 1-{A2I_NAME_CHARS} lowercase letters, digits"
        " and hyphens, starting and ending with a letter or digit"
    )
