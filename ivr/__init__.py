"""Touch-tone IVR engine: menus, navigation, TwiML, routing, surveys and reports (no Flask here)."""

__version__ = "0.1.0"
