"""The web suite's hostile-input tests, run here on PostgreSQL as well as SQLite.

`tests/web` runs on SQLite alone (its `portal` is seeded in `sqlite_project`), which is how a
NUL that SQLite stores and PostgreSQL refuses went unseen. Collected in this folder, the same
test functions take this folder's `portal`, which is parametrised over both databases; only
the hostile-input ones are repeated, so the suite grows by a few seconds, not by the web suite.
"""

from __future__ import annotations

from tests.web.test_api import (  # noqa: F401  (collected here, on both databases)
    test_a_form_post_without_the_csrf_token_is_refused,
    test_a_job_with_bad_terms_is_refused_with_a_message,
    test_a_json_post_with_the_session_cookie_needs_the_csrf_header,
    test_a_worker_of_another_team_gets_nothing,
    test_an_oversized_body_is_refused,
    test_boxes_outside_the_image_are_refused_with_a_message,
    test_sign_in_never_redirects_to_another_site,
)
