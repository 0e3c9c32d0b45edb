"""`truthloop pipeline subscribe|unsubscribe|subscribers|notifications`: who is told of a
pipeline's events (e-mail, signed webhooks), and what they were told.

A thin layer over `truthloop.pipeline.notify`, added to the `truthloop pipeline` app by
`register`; with `--json` every command prints the service's answer as plain JSON.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from truthloop.cli.context import CLI_USER, open_project
from truthloop.cli.output import JsonOption, console, errors_as_messages, print_json, shown_time
from truthloop.errors import InputError
from truthloop.pipeline import (
    EVENTS,
    get_pipeline,
    list_notifications,
    list_subscribers,
    subscribe,
    unsubscribe,
)
from truthloop.pipeline.notify import EMAIL, MOST_LISTED, WEBHOOK
from truthloop.pipeline.overview import when
from truthloop.storage.tables import PipelineNotificationRow, PipelineSubscriberRow


def _subscriber_json(subscriber: PipelineSubscriberRow) -> dict[str, Any]:
    """A subscriber as listed: never its secret, which is shown once, when it is made."""
    return {
        "id": subscriber.id,
        "kind": subscriber.kind,
        "target": subscriber.target,
        "events": list(subscriber.events) or list(EVENTS),
        "active": subscriber.active,
        "created_by": subscriber.created_by,
        "created_at": when(subscriber.created_at),
    }


def _notification_json(notification: PipelineNotificationRow) -> dict[str, Any]:
    return {
        "id": notification.id,
        "event": notification.event,
        "subject": notification.subject,
        "body": notification.body,
        "data": notification.data,
        "created_at": when(notification.created_at),
    }


def _target(email: str | None, webhook: str | None) -> tuple[str, str]:
    """The subscriber's kind and target: exactly one of --email and --webhook."""
    if (email is None) == (webhook is None):
        raise InputError("give one of --email ADDRESS and --webhook URL, not both nor neither")
    return (EMAIL, email) if email is not None else (WEBHOOK, webhook or "")


def subscribe_(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Pipeline whose events are told.")],
    email: Annotated[
        str | None, typer.Option(metavar="ADDRESS", help="Mail the events to this address.")
    ] = None,
    webhook: Annotated[
        str | None, typer.Option(metavar="URL", help="POST the events, signed, to this URL.")
    ] = None,
    event: Annotated[
        list[str] | None,
        typer.Option(
            metavar="EVENT",
            help=f"Only this event (repeat for more; default: all): {', '.join(EVENTS)}.",
        ),
    ] = None,
    secret: Annotated[
        str | None,
        typer.Option(help="The webhook's signing secret (default: a new random one)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Tell an e-mail address or a webhook of the pipeline's events.

    A webhook's signing secret is printed this once: give it to the receiver now.
    """
    with errors_as_messages(json_output), open_project(ctx).session() as session:
        kind, target = _target(email, webhook)
        pipeline = get_pipeline(session, name)
        subscriber = subscribe(
            session, pipeline, kind, target, events=event or (), secret=secret,
            created_by=CLI_USER,
        )  # fmt: skip
        info = _subscriber_json(subscriber) | {"secret": subscriber.secret}
    if json_output:
        print_json(info)
        return
    told = "every event" if not event else ", ".join(info["events"])
    console.print(Text(f"subscriber {info['id']}: {target} is told of {told} of pipeline {name}"))
    if info["secret"] is not None:
        console.print(
            Text(f"signing secret (shown this once, give it to the receiver): {info['secret']}"),
            soft_wrap=True,
        )


def unsubscribe_(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Pipeline.")],
    subscriber_id: Annotated[int, typer.Argument(metavar="ID", help="Subscriber to stop.")],
    json_output: JsonOption = False,
) -> None:
    """Stop telling a subscriber; its deliveries still pending are given up."""
    with errors_as_messages(json_output):
        project = open_project(ctx)
        with project.db.session(immediate=True) as session:
            pipeline = get_pipeline(session, name)
            info = _subscriber_json(unsubscribe(session, pipeline, subscriber_id))
    if json_output:
        print_json(info)
        return
    console.print(Text(f"subscriber {subscriber_id} ({info['target']}) is no longer told"))


def subscribers(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Pipeline.")],
    json_output: JsonOption = False,
) -> None:
    """Who is told of the pipeline's events, unsubscribed ones too."""
    with errors_as_messages(json_output), open_project(ctx).session() as session:
        rows = [_subscriber_json(s) for s in list_subscribers(session, get_pipeline(session, name))]
    if json_output:
        print_json(rows)
        return
    table = Table("id", "kind", "target", "events", "active", title=f"pipeline {name}: subscribers")
    for row in rows:
        events = ", ".join(row["events"]) if len(row["events"]) < len(EVENTS) else "all"
        table.add_row(
            str(row["id"]),
            row["kind"],
            Text(row["target"]),
            events,
            "yes" if row["active"] else "no",
        )
    console.print(table)


def notifications(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Pipeline.")],
    limit: Annotated[
        int, typer.Option(help=f"Most notifications shown, newest first (at most {MOST_LISTED}).")
    ] = 20,
    json_output: JsonOption = False,
) -> None:
    """What the pipeline told its subscribers, newest first: its event log."""
    with errors_as_messages(json_output), open_project(ctx).session() as session:
        pipeline = get_pipeline(session, name)
        rows = [_notification_json(n) for n in list_notifications(session, pipeline, limit=limit)]
    if json_output:
        print_json(rows)
        return
    for row in rows:
        when = shown_time(row["created_at"], seconds=True)
        console.print(Text(f"{when}  {row['event']}: {row['subject']}", style="bold"))
        console.print(Text(row["body"]))
        console.print()


def register(app: typer.Typer) -> None:
    """Add the notification commands to the `truthloop pipeline` app."""
    app.command("subscribe")(subscribe_)
    app.command("unsubscribe")(unsubscribe_)
    app.command("subscribers")(subscribers)
    app.command("notifications")(notifications)
