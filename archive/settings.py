"""The one typed settings object.

Loaded once (``load_settings``) from ``BEWAAR_HOME/bewaar.toml`` and ``BEWAAR_*`` environment
variables (the environment wins), then passed down. A bad value fails loudly at load time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from archive.errors import SettingsError

DEFAULT_HOME = Path("bewaar-data")


class Settings(BaseSettings):
    """Everything configurable. Paths are resolved against ``home``."""

    model_config = SettingsConfigDict(env_prefix="BEWAAR_", extra="forbid")

    home: Path = Field(default=DEFAULT_HOME, description="Folder that holds everything.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///HOME/bewaar.sqlite3"
    )
    storage_url: str | None = Field(
        default=None, description="Where WARCs and packages go: a folder path, file:// or s3://"
    )

    # Organisation (warcinfo, bag-info, MDTO)
    organisation: str = "Ministerie van Justitie en Veiligheid"
    organisation_id: str = Field(default="OIN-00000001001299992000", description="OIN or TOOI id")
    operator: str = "Bewaarplaats operator"

    # Crawling
    warc_prefix: str = "BEWAAR"
    warc_max_size: int = Field(default=1_000_000_000, ge=1_000_000)
    warc_gzip_level: int = Field(default=3, ge=1, le=9, description="1-3: isal (fast), 4-9: zlib-ng")
    user_agent: str = "Bewaarplaats/0.1 (+https://www.rijksoverheid.nl/archief)"
    concurrency: int = Field(default=16, ge=1, le=512)
    concurrency_per_host: int = Field(default=8, ge=1, le=256)
    download_delay: float = Field(default=0.0, ge=0)
    download_timeout: float = Field(default=60.0, gt=0)
    max_response_size: int = Field(default=500_000_000, ge=1024)
    max_path_repeats: int = Field(default=3, ge=1)
    max_query_variants: int = Field(default=50, ge=1)
    default_max_pages: int = Field(default=10_000, ge=1)
    default_max_depth: int = Field(default=20, ge=0)

    # After a crawl
    qa_after_crawl: bool = True
    seal_after_crawl: bool = True

    # Sealing
    tsa_url: str | None = None
    seal_cert: Path | None = None
    seal_key: Path | None = None
    seal_chain: Path | None = None
    seal_key_password_env: str | None = None
    selectielijst: Path | None = None

    # Replay
    replay_host: str = "127.0.0.1"
    replay_port: int = Field(default=8080, ge=0, le=65535)

    # Service
    serve_host: str = "127.0.0.1"
    serve_port: int = Field(default=8000, ge=0, le=65535)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, v: Path) -> Path:
        return v.expanduser().absolute()

    @field_validator("database_url")
    @classmethod
    def _check_db_url(cls, v: str | None) -> str | None:
        if v is not None and "://" not in v:
            raise ValueError(f"not a database URL: {v!r} (try sqlite:///path or postgresql://…)")
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
        home = Path(os.environ.get("BEWAAR_HOME", str(DEFAULT_HOME))).expanduser()
        if isinstance(init_settings.init_kwargs.get("home"), (str, Path)):  # type: ignore[attr-defined]
            home = Path(init_settings.init_kwargs["home"])  # type: ignore[attr-defined]
        toml = TomlConfigSettingsSource(settings_cls, toml_file=home / "bewaar.toml")
        return (init_settings, env_settings, toml)

    # Derived locations -------------------------------------------------------------------
    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'bewaar.sqlite3'}"

    @property
    def warc_dir(self) -> Path:
        return self.home / "warcs"

    @property
    def index_dir(self) -> Path:
        return self.home / "indexes"

    @property
    def runs_dir(self) -> Path:
        """Crawl logs, reports and job state, one folder per run."""
        return self.home / "runs"

    @property
    def packages_dir(self) -> Path:
        return self.home / "packages"

    @property
    def collections_dir(self) -> Path:
        return self.home / "collections"

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def chat_dir(self) -> Path:
        return self.home / "chat"


def load_settings(**overrides: Any) -> Settings:
    """Load the settings once; raise ``SettingsError`` with every bad field named."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise SettingsError(f"bad setting: {problems}") from None
