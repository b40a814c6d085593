"""The HTTP skin: Flask blueprints that verify requests and call the engine."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Register every blueprint in one visible place."""
    from handlers import admin, errors, health, media, routing, simulator, survey, voice

    app.register_blueprint(voice.bp)
    app.register_blueprint(routing.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(media.bp)
    app.register_blueprint(survey.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(simulator.bp)
    errors.register(app)
