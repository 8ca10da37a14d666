"""The one typed settings object.

Loaded once (``load_settings``) from ``BEWAAR_HOME/bewaar.toml`` and ``BEWAAR_*`` environment
variables (the environment wins), then passed down. Anything wrong fails loudly at load time
with a one-line ``SettingsError`` naming the variable or the file: a bad value, an unknown key
in the file, a TOML syntax error (with its line) and an unknown ``BEWAAR_*`` variable (a typo
must not pass silently). ``describe`` lists every setting with its value and where it came from
(``bewaar settings``).

No other module reads ``BEWAAR_*`` variables, except ``BEWAAR_HOME``, the test-only
``BEWAAR_TEST_*`` / ``BEWAAR_REQUIRE_*`` and secrets whose variable name a setting or a command
option gives. A setting never holds a secret itself, only the name of the variable with it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from archive.errors import SettingsError

DEFAULT_HOME = Path("bewaar-data")
ENV_PREFIX = "BEWAAR_"
SETTINGS_FILE = "bewaar.toml"
# Variables only the test suite reads (never settings).
TEST_PREFIXES = ("BEWAAR_TEST_", "BEWAAR_REQUIRE_")
# Settings whose value is the NAME of an environment variable that holds a secret.
SECRET_NAME_SETTINGS = ("seal_key_password_env",)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


class Settings(BaseSettings):
    """Everything configurable. Paths are resolved against ``home``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    home: Path = Field(default=DEFAULT_HOME, description=(
        "Folder that holds everything: database, WARCs, indexes, packages, collections, keys. "
        "Set it with BEWAAR_HOME only (bewaar.toml lives in it)."))
    database_url: str | None = Field(default=None, description=(
        "SQLAlchemy database URL (sqlite:///PATH or postgresql://…); "
        "default sqlite:///HOME/bewaar.sqlite3."))
    storage_url: str | None = Field(default=None, description=(
        "Where finished WARCs (warcs/), their CDXJ and sealed packages (packages/) go: a folder "
        "(a path or a file:// URL; a relative path is taken from HOME; default HOME) or an "
        "S3 bucket, s3://BUCKET/PREFIX (endpoint and credentials from the AWS_* variables, "
        "AWS_ENDPOINT_URL for MinIO/Ceph); with a bucket HOME is the working area and cache."))
    storage_cache_size: int = Field(default=10_000_000_000, ge=0, description=(
        "Bytes of files fetched from an s3:// storage_url kept on local disk (HOME/object-cache); "
        "the least recently used go past it. 0 keeps only the files in use."))

    # Organisation (warcinfo, bag-info, MDTO)
    organisation: str | None = Field(default=None, min_length=1, description=(
        "Name of the organisation that archives (written into WARCs, bag-info.txt and MDTO). "
        "No default: packages are not sealed until it is set."))
    organisation_id: str | None = Field(default=None, min_length=1, description=(
        "Identifier of that organisation (OIN or TOOI), written beside its name. "
        "No default: packages are not sealed until it is set."))
    operator: str = Field(default="Bewaarplaats operator", description=(
        "Who runs the crawls, written into each WARC's warcinfo record."))

    # Crawling
    warc_prefix: str = Field(default="BEWAAR", description=(
        "First part of every WARC file name (PREFIX-SITE-…warc.gz)."))
    warc_max_size: int = Field(default=1_000_000_000, ge=1_000_000, description=(
        "Size in bytes after which a crawl starts its next WARC file."))
    warc_gzip_level: int = Field(default=3, ge=1, le=9, description=(
        "gzip level of WARC files: 1-3 isal (fast), 4-9 zlib-ng."))
    user_agent: str = Field(default="Bewaarplaats/0.1 (+https://www.rijksoverheid.nl/archief)",
                            description="User-Agent header of the crawler; robots.txt rules "
                                        "are matched against it.")
    concurrency: int = Field(default=16, ge=1, le=512, description=(
        "Requests a crawl has in flight at once."))
    concurrency_per_host: int = Field(default=8, ge=1, le=256, description=(
        "Requests in flight at once to one host."))
    download_delay: float = Field(default=0.0, ge=0, description=(
        "Seconds between requests to one host (randomised 0.5-1.5x when above 0)."))
    download_timeout: float = Field(default=60.0, gt=0, description=(
        "Seconds before a fetch that has not finished is given up (and logged as failed)."))
    max_response_size: int = Field(default=500_000_000, ge=1024, description=(
        "Largest response in bytes a crawl fetches; larger ones are skipped."))
    retry_times: int = Field(default=2, ge=0, le=10, description=(
        "How often a 429/502/503/504 answer is fetched again (honouring Retry-After); "
        "0 = never. Every attempt is in the WARC."))
    max_path_repeats: int = Field(default=3, ge=1, description=(
        "A URL whose path repeats one segment more often than this is a crawler trap: skipped."))
    max_query_variants: int = Field(default=50, ge=1, description=(
        "Query-string variants of one path a crawl fetches at most."))
    default_max_pages: int = Field(default=10_000, ge=1, description=(
        "Pages per crawl for a site that sets no --max-pages."))
    default_max_depth: int = Field(default=20, ge=0, description=(
        "Link depth from the seeds for a site that sets no --max-depth."))
    harvest_concurrency: int = Field(default=16, ge=1, le=1024, description=(
        "Sites `bewaar harvest` crawls at once, all in one crawl process."))

    # After a crawl
    qa_after_crawl: bool = Field(default=True, description=(
        "Check the replay of each finished crawl (replay QA) before it is sealed."))
    seal_after_crawl: bool = Field(default=True, description=(
        "Seal each finished crawl into a package."))
    search_after_crawl: bool = Field(default=True, description=(
        "Add each finished crawl's pages and PDFs to the full-text search index (off: "
        "`bewaar search reindex` adds them later)."))
    enrich_after_archiving: bool | None = Field(default=None, description=(
        "Compute the archivist's metadata suggestions (`bewaar enrich`) for each package "
        "sealed after a crawl, a chat export or a chat import; unset: on when the models "
        "are installed."))
    archivist_cache: Path | None = Field(default=None, description=(
        "Folder for the lookup tables the archivist's models build on first use (deduce: "
        "about a minute, 80 MB); default BEWAAR_HOME/cache."))

    # Sealing
    tsa_url: str | None = Field(default=None, description=(
        "RFC 3161 time-stamp authority URL; without it packages carry no time-stamp."))
    seal_cert: Path | None = Field(default=None, description=(
        "Seal certificate (PEM, or PKCS #12 .p12/.pfx with its key); "
        "default the local one from `bewaar keys init`."))
    seal_key: Path | None = Field(default=None, description=(
        "Private key (PEM) of seal_cert, when seal_cert is PEM."))
    seal_chain: Path | None = Field(default=None, description=(
        "PEM file with the certificates between seal_cert and its root."))
    seal_key_password_env: str | None = Field(default=None, description=(
        "NAME of the environment variable that holds the seal key's password "
        "(never the password itself)."))
    selectielijst: Path | None = Field(default=None, description=(
        "TOML selectielijst file used when none is loaded into the database."))

    # Records
    destruction_wait_days: int = Field(default=7, ge=0, le=3650, description=(
        "Days between an archivist's approval of a destruction list and the first day it may "
        "be executed; during them the list can still be cancelled. 0 = executable at once."))

    # Replay
    replay_host: str = Field(default="127.0.0.1", description=(
        "Address `bewaar replay serve` listens on."))
    replay_port: int = Field(default=8080, ge=0, le=65535, description=(
        "Port of `bewaar replay serve` (0 = any free port)."))

    # Service
    serve_host: str = Field(default="127.0.0.1", description="Address `bewaar serve` listens on.")
    serve_port: int = Field(default=8000, ge=0, le=65535, description=(
        "Port of `bewaar serve` (0 = any free port)."))
    task_queue: Literal["local", "postgres"] = Field(default="local", description=(
        "Where the scheduled and requested jobs (crawls with their replay check and seal, "
        "harvest windows, chat exports) run: \"local\" in the `bewaar serve` process itself; "
        "\"postgres\" queued in "
        "the PostgreSQL database (procrastinate) and run by `bewaar worker` processes on any "
        "machine that shares the database and storage_url (`bewaar serve` then only "
        "schedules). \"postgres\" needs a postgresql:// database_url."))
    harvest_window: str | None = Field(default=None, min_length=1, description=(
        "Cron (Europe/Amsterdam) of the service's harvest window, e.g. '0 2 * * *': at each, "
        "every active site whose schedule fired since the last finished window is harvested "
        "at once, as `bewaar harvest` does (one crawl process, harvest_concurrency sites at a "
        "time, a slow site holding only its own slot, unfinished runs resumed); those "
        "schedules then start no crawl of their own. Unset: each schedule crawls its site."))
    worker_heartbeat: float = Field(default=10.0, gt=0, le=3600, description=(
        "Seconds between the heartbeats of a `bewaar worker` (task_queue = \"postgres\")."))
    worker_stall_timeout: float = Field(default=60.0, gt=0, description=(
        "Seconds without a heartbeat after which a `bewaar worker` counts as gone: its jobs "
        "are taken up by another worker (a crawl resumes) and its locks lapse. Keep it "
        "several heartbeats long."))
    upload_max_bytes: int = Field(default=2_000_000_000, ge=1, description=(
        "Largest upload the web app accepts (the files of one chat export upload together, "
        "in bytes); reading stops and the upload is refused (413) past it."))

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="WARNING", description=(
            "Least severe log messages shown: by the command line, the service and the crawl "
            "worker (its runs/RUN/scrapy.log)."))

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, v: Path) -> Path:
        return v.expanduser().absolute()

    @field_validator("database_url")
    @classmethod
    def _check_db_url(cls, v: str | None) -> str | None:
        if v is not None and "://" not in v:
            raise ValueError("not a database URL (try sqlite:///path or postgresql://…)")
        return v

    @field_validator("task_queue")
    @classmethod
    def _check_task_queue(cls, v: str, info: ValidationInfo) -> str:
        url = info.data.get("database_url") or "sqlite:"
        if v == "postgres" and not url.startswith("postgresql"):
            raise ValueError('task_queue = "postgres" needs a PostgreSQL database_url '
                             "(postgresql://…); the database is SQLite")
        return v

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, v: Any) -> Any:
        return v.upper() if isinstance(v, str) else v

    @field_validator("storage_url")
    @classmethod
    def _check_storage_url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        parts = urlsplit(v)
        if parts.scheme == "s3":
            if not parts.netloc or not _BUCKET.fullmatch(parts.netloc):
                raise ValueError("an s3:// URL names a bucket: s3://BUCKET/PREFIX "
                                 "(3-63 lower-case letters, digits, dots or hyphens)")
            if parts.query or parts.fragment or "@" in parts.netloc:
                raise ValueError("an s3:// URL is s3://BUCKET/PREFIX only; credentials come "
                                 "from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY")
        elif parts.scheme == "file":
            if parts.netloc not in ("", "localhost") or not parts.path:
                raise ValueError("a file:// URL names a local folder: file:///path")
        elif len(parts.scheme) > 1:
            raise ValueError(f"unknown storage URL scheme {parts.scheme!r}; "
                             "use a local folder, a file:// URL or s3://BUCKET/PREFIX")
        elif not v.strip():
            raise ValueError("empty storage location")
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        home = home_of(init_settings.init_kwargs)  # type: ignore[attr-defined]
        data = read_settings_file(home / SETTINGS_FILE)
        return (init_settings, env_settings, InitSettingsSource(settings_cls, init_kwargs=data))

    # Derived locations -------------------------------------------------------------------
    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'bewaar.sqlite3'}"

    @property
    def storage_root(self) -> Path:
        """The folder of ``storage_url`` (HOME when unset or a bucket: the working area)."""
        if self.storage_url is None or self.storage_url.startswith("s3://"):
            return self.home
        text = self.storage_url
        path = Path(urlsplit(text).path) if text.startswith("file:") else Path(text).expanduser()
        return path if path.is_absolute() else self.home / path

    @property
    def warc_dir(self) -> Path:
        return self.storage_root / "warcs"

    @property
    def index_dir(self) -> Path:
        return self.home / "indexes"

    @property
    def runs_dir(self) -> Path:
        """Crawl logs, reports and job state, one folder per run."""
        return self.home / "runs"

    @property
    def packages_dir(self) -> Path:
        return self.storage_root / "packages"

    @property
    def storage_cache_dir(self) -> Path:
        """Files fetched from an s3:// storage, under their keys (archive.storage)."""
        return self.home / "object-cache"

    @property
    def collections_dir(self) -> Path:
        return self.home / "collections"

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def chat_dir(self) -> Path:
        return self.home / "chat"


# Loading -----------------------------------------------------------------------------------
def env_name(name: str) -> str:
    """The environment variable of setting ``name``."""
    return ENV_PREFIX + name.upper()


def home_of(overrides: Mapping[str, Any]) -> Path:
    """The home folder the settings file is read from (an override, BEWAAR_HOME or default)."""
    given = overrides.get("home")
    if isinstance(given, (str, Path)):
        return Path(given).expanduser()
    return Path(os.environ.get("BEWAAR_HOME", str(DEFAULT_HOME))).expanduser()


def read_settings_file(path: Path) -> dict[str, Any]:
    """The settings in ``path`` ({} when there is none); a ``SettingsError`` names the file
    (and the line) when it cannot be read."""
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):  # none; a HOME that is a file is reported
        return {}  # when it is used
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {exc.strerror}") from None
    import tomllib  # only when there is a file (start-up time)

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SettingsError(f"{path}: not valid TOML: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    if "home" in data:
        raise SettingsError(f"{path}: 'home' cannot be set in the file inside it; "
                            "set BEWAAR_HOME instead")
    return data


def _suggest(name: str, known: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def _environ_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """``{setting name: variable}`` for the settings the environment sets (names are matched
    without regard to case, as pydantic-settings does)."""
    names = {env_name(n): n for n in Settings.model_fields}
    return {names[k.upper()]: k for k in environ if k.upper() in names}


def check_environment(environ: Mapping[str, str], named_secrets: Iterable[str] = ()) -> None:
    """Refuse a ``BEWAAR_*`` variable that is no setting: a misspelt one would be ignored.
    ``named_secrets``: variable names that hold secrets (a setting or an option names them)."""
    known = {env_name(n) for n in Settings.model_fields}
    allowed = {v.upper() for v in named_secrets}
    for name in SECRET_NAME_SETTINGS:  # the variable such a setting names holds a secret
        for key, value in environ.items():
            if key.upper() == env_name(name):
                allowed.add(value.upper())
    for key in sorted(environ):
        upper = key.upper()
        if (not upper.startswith(ENV_PREFIX) or upper in known or upper in allowed
                or upper.startswith(TEST_PREFIXES)):
            continue
        raise SettingsError(f"unknown environment variable {key}: no such setting"
                            f"{_suggest(upper, known)}; `bewaar settings` lists them all")


def load_settings(*, named_secrets: Iterable[str] = (), **overrides: Any) -> Settings:
    """Load the settings once; raise ``SettingsError`` naming the bad variable or key.

    ``named_secrets``: ``BEWAAR_*`` variable names that hold secrets (given by an option), so
    they are not taken for misspelt settings.
    """
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        check_environment(os.environ, named_secrets)  # a misspelt variable may be the cause
        raise SettingsError(_explain(exc, overrides)) from None
    except SettingsError:
        check_environment(os.environ, named_secrets)
        raise
    names = [*named_secrets, *(v for n in SECRET_NAME_SETTINGS if (v := getattr(settings, n)))]
    check_environment(os.environ, names)
    return settings


def _explain(exc: ValidationError, overrides: Mapping[str, Any]) -> str:
    path = home_of(overrides) / SETTINGS_FILE
    from_env = _environ_settings(os.environ)
    try:
        in_file = read_settings_file(path)
    except SettingsError:
        in_file = {}
    problems = []
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else "settings"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown setting {name!r} in {path}"
                            f"{_suggest(name, Settings.model_fields)}")
        elif name in overrides:
            problems.append(f"bad setting {name}: {msg}")
        elif name in from_env:
            problems.append(f"bad setting {from_env[name]} (environment): {msg}")
        elif name in in_file:
            problems.append(f"bad setting {name} in {path}: {msg}")
        else:
            problems.append(f"bad setting {name}: {msg}")
    return "; ".join(problems)


# Listing -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SettingInfo:
    name: str
    env: str
    value: Any
    default: Any
    source: str  # default | bewaar.toml | environment | given
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "env": self.env, "value": self.value, "default": self.default,
                "source": self.source, "description": self.description}


def _shown(value: Any) -> Any:
    """A value as it may be printed: paths as text, a URL's password replaced by ***."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str) and "://" in value:
        parts = urlsplit(value)
        if parts.password:
            netloc = f"{parts.username or ''}:***@{parts.hostname or ''}"
            if parts.port:
                netloc += f":{parts.port}"
            return urlunsplit(parts._replace(netloc=netloc))
    return value


def describe(settings: Settings, overrides: Mapping[str, Any] | None = None) -> list[SettingInfo]:
    """Every setting: name, variable, value, default, where the value came from, description."""
    overrides = overrides or {}
    from_env = _environ_settings(os.environ)
    in_file = read_settings_file(settings.home / SETTINGS_FILE)
    out = []
    for name, field in Settings.model_fields.items():
        if name in overrides:
            source = "given"
        elif name in from_env:
            source = "environment"
        elif name in in_file:
            source = SETTINGS_FILE
        else:
            source = "default"
        out.append(SettingInfo(name, env_name(name), _shown(getattr(settings, name)),
                               _shown(field.default), source, field.description or ""))
    return out
