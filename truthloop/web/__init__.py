"""The labeling portal and its REST API (FastAPI, server-rendered Jinja2 pages, plain JavaScript
modules): `create_app(project)`; `truthloop serve` runs it under uvicorn."""

from truthloop.web.app import create_app

__all__ = ["create_app"]
