"""Thin routes: parse, authorise, call a service, render. Pages and the /api/ JSON endpoints."""
