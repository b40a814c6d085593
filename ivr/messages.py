"""Built-in system messages in English and Spanish; menus may override or add languages."""

from __future__ import annotations

#: name -> {language prefix -> text}. `{…}` fields are filled in when spoken.
BUILTIN: dict[str, dict[str, str]] = {
    "goodbye": {
        "en": "Thank you for calling. Goodbye.",
        "es": "Gracias por llamar. Adiós.",
    },
    "apology": {
        "en": "We are sorry, we are having a technical problem.",
        "es": "Lo sentimos, tenemos un problema técnico.",
    },
    "no_input": {
        "en": "Sorry, I did not hear a choice.",
        "es": "Lo siento, no escuché ninguna opción.",
    },
    "invalid": {
        "en": "Sorry, that is not a valid choice.",
        "es": "Lo siento, esa no es una opción válida.",
    },
    "menu_changed": {
        "en": "Sorry, our menu has just changed. Returning to the main menu.",
        "es": "Lo sentimos, nuestro menú acaba de cambiar. Volviendo al menú principal.",
    },
    "transferring": {
        "en": "Please hold while we transfer your call.",
        "es": "Por favor espere mientras transferimos su llamada.",
    },
    "closed": {
        "en": "We are currently closed.",
        "es": "En este momento estamos cerrados.",
    },
    "queue_position": {
        "en": "You are caller number {position}.",
        "es": "Usted es la persona número {position} en la fila.",
    },
    "queue_wait": {
        "en": "Your estimated wait is about {minutes} minutes.",
        "es": "Su tiempo de espera estimado es de unos {minutes} minutos.",
    },
    "queue_wait_one": {
        "en": "Your estimated wait is about one minute.",
        "es": "Su tiempo de espera estimado es de un minuto.",
    },
    "queue_wait_short": {
        "en": "Your estimated wait is less than a minute.",
        "es": "Su tiempo de espera estimado es de menos de un minuto.",
    },
    "queue_leave_hint": {
        "en": "To leave a message instead of waiting, press {key}.",
        "es": "Para dejar un mensaje en lugar de esperar, oprima {key}.",
    },
    "queue_timeout": {
        "en": "Sorry, all our agents are still busy.",
        "es": "Lo sentimos, todos nuestros agentes siguen ocupados.",
    },
    "queue_full": {
        "en": "Sorry, we are receiving too many calls right now.",
        "es": "Lo sentimos, estamos recibiendo demasiadas llamadas en este momento.",
    },
    "voicemail_greeting": {
        "en": "Please leave a message after the tone. Press pound when you are finished.",
        "es": "Por favor deje un mensaje después del tono. Oprima numeral cuando termine.",
    },
    "voicemail_saved": {
        "en": "Thank you, your message has been recorded.",
        "es": "Gracias, su mensaje ha sido grabado.",
    },
    "voicemail_empty": {
        "en": "We did not receive a message.",
        "es": "No recibimos ningún mensaje.",
    },
    "transfer_failed": {
        "en": "Sorry, nobody is available to take your call right now.",
        "es": "Lo sentimos, nadie puede atender su llamada en este momento.",
    },
    "welcome_back": {
        "en": "Welcome back. To return to {destination}, press 1. For the main menu, press 2.",
        "es": "Bienvenido de nuevo. Para volver a {destination}, oprima 1. "
              "Para el menú principal, oprima 2.",
    },
    "whisper": {
        "en": "{queue} call, waited {minutes} minutes.",
        "es": "Llamada de {queue}, esperó {minutes} minutos.",
    },
    "whisper_one": {
        "en": "{queue} call, waited one minute.",
        "es": "Llamada de {queue}, esperó un minuto.",
    },
    "whisper_short": {
        "en": "{queue} call, waited less than a minute.",
        "es": "Llamada de {queue}, esperó menos de un minuto.",
    },
    "entered": {
        "en": "You entered {digits}.",
        "es": "Usted ingresó {digits}.",
    },
}


def builtin_text(name: str, lang: str) -> str | None:
    """The built-in text of message `name` for `lang` (matched on its prefix, `es-MX` -> `es`)."""
    return BUILTIN.get(name, {}).get(lang.split("-")[0].lower())
