"""The Flask application factory and the module-level `app` that gunicorn serves."""

from __future__ import annotations

import gc
import logging

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from handlers import register_blueprints
from handlers.fastpath import VoiceFastPath
from handlers.webhook_request import WebhookRequest
from ivr.metrics import MetricSettings
from ivr.runtime import create_runtime
from ivr.settings import Config, load_config
from ivr.warmup import start_warmer

MAX_BODY_BYTES = 64 * 1024  # Twilio's webhooks are a few KB; anything larger is refused with 413


def create_app(overrides: dict | None = None, config: Config | None = None) -> Flask:
    """Build the app: settings, menus, Redis, blueprints."""
    config = config or load_config(overrides)
    logging.basicConfig(level=config.get("IVR_LOG_LEVEL"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = Flask(__name__)
    app.request_class = WebhookRequest
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config["MAX_FORM_MEMORY_SIZE"] = MAX_BODY_BYTES
    app.config["SECRET_KEY"] = config.local_secret("IVR_SECRET_KEY", "secret_key")
    runtime = app.extensions["ivr"] = create_runtime(config)
    start_warmer(runtime.redis, MetricSettings.from_config(config), config.float("IVR_WARM_SECONDS"))
    register_blueprints(app)
    app.wsgi_app = VoiceFastPath(app, app.wsgi_app, MAX_BODY_BYTES)  # the hot webhooks, lean
    proxies = config.int("IVR_TRUSTED_PROXIES")
    if proxies:  # outermost, so every layer sees the URL Twilio requested
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies,
                                x_port=proxies, x_prefix=proxies)
    return app


class _LazyApp:
    """Builds the real app on first use, so importing this module never starts Redis."""

    _app: Flask | None = None

    def load(self) -> Flask:
        """The real app, created on first use."""
        if self._app is None:
            self._app = create_app()
            # What start-up built (modules, menus, templates) lives as long as the process: move it
            # out of the collector's generations so collections between webhooks stay short.
            gc.freeze()
        return self._app

    def __call__(self, environ, start_response):
        return self.load()(environ, start_response)


app = _LazyApp()
